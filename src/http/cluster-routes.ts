/**
 * Cluster administration: status, membership and leadership transfer. Whatever an admin request
 * would put in the log is checked first (the schema for shapes, checkMember for the rules the
 * schema cannot say, such as what a hostname is), so a bad request gets a 400 naming the field
 * instead of becoming an entry that every replica must apply. A change that would wedge the
 * cluster is refused with 409 unsafe_reconfig unless `?force=true` (src/node/reconfig-check.ts).
 */
import type { FastifyInstance } from 'fastify';
import { diskUsage } from '../node/disk-usage.ts';
import { checkMember } from '../node/members.ts';
import type { NodeStatus } from '../node/node-status.ts';
import type { RaftNode } from '../node/raft-node.ts';
import { VERSION } from '../node/version.ts';
import { HttpError } from './errors.ts';

/** The same rule as nodeIdProblem (src/node/addresses.ts), for the OpenAPI document. */
const idSchema = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } as const;

const memberSchema = {
  type: 'object',
  properties: {
    id: idSchema,
    host: { type: 'string', minLength: 1, maxLength: 253, description: 'an IPv4 or IPv6 address or a DNS hostname' },
    /** 0: the member serves no plain RESP (then tls_port is required). */
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    http_port: { type: 'integer', minimum: 1, maximum: 65535 },
    /** RESP over TLS port, named to TLS clients in MOVED and CLUSTER replies. */
    tls_port: { type: 'integer', minimum: 1, maximum: 65535 },
  },
  required: ['id', 'host', 'port', 'http_port'],
  additionalProperties: false,
} as const;

/** `?force=true`: skip the strict reconfiguration check, as etcd's --strict-reconfig-check=false. */
const forceQuery = {
  type: 'object',
  properties: { force: { type: 'boolean', description: 'make the change even if it would leave too few active voters to commit' } },
  additionalProperties: false,
} as const;

type ForceQuery = { Querystring: { force?: boolean } };

/**
 * A member's role as this node can vouch for it, and when it last heard from it. Only the
 * leader hears from everyone (each answers its heartbeats), so only the leader says `follower`
 * or `learner`, and says `unreachable` for one not heard from within an election timeout rather
 * than the role it had. Any other node knows itself and the leader it hears from; the others
 * are `unknown` (with `voter` still saying what the configuration makes them).
 */
export function memberRoles(s: NodeStatus, electionTimeoutMs: number, sinceMs: (id: string) => number | undefined) {
  return (id: string) => {
    const voter = s.voters.includes(id);
    const last = id === s.id ? 0 : (sinceMs(id) ?? null);
    let role: string;
    if (id === s.id) role = s.role;
    else if (id === s.leader) role = last !== null && last <= electionTimeoutMs ? 'leader' : 'unreachable';
    else if (s.role !== 'leader') role = 'unknown';
    else if (last === null || last > electionTimeoutMs) role = 'unreachable';
    else role = s.learners.includes(id) ? 'learner' : voter ? 'follower' : 'unknown';
    return { role, voter, last_contact_ms: last };
  };
}

export function registerClusterRoutes(
  app: FastifyInstance,
  node: RaftNode,
  /** A multi-group node's check that the member holds no shard replica (drain it first). */
  removalRefused: (id: string) => string | undefined = () => undefined,
): void {
  app.get('/v1/cluster', { schema: { description: 'Members, roles, term, commit and applied index, leader, disk size, version' } }, async () => {
    const s = node.status();
    const log = node.storage.stats();
    const view = memberRoles(s, node.cfg.electionTimeout, (id) => node.contact.sinceMs(id));
    const members = node.members.all().map((m) => ({
      id: m.id,
      host: m.host,
      port: m.port,
      http_port: m.httpPort,
      ...(m.tlsPort ? { tls_port: m.tlsPort } : {}),
      ...view(m.id),
    }));
    return {
      id: s.id,
      cluster_id: node.clusterId ?? null,
      role: s.role,
      removed: node.removal.removed,
      term: s.term,
      leader: s.leader || null,
      commit: s.commit,
      applied: s.applied,
      last_index: s.lastIndex,
      snapshot_index: s.snapshotIndex,
      // The retained log's entry bytes, and those whose data is in memory (the bench's memory
      // breakdown reads them; older applied entries are on disk only: memory-log.ts trim).
      log_bytes: log.bytes,
      log_memory_bytes: log.memory.bytes,
      log_memory_entries: log.memory.entries,
      voters: s.voters,
      learners: s.learners,
      members,
      progress: node.progress() ?? null,
      version: VERSION,
      disk_bytes: await diskUsage(node.cfg.dataDir),
      election_timeout_ms: node.cfg.electionTimeout,
    };
  });

  app.post<{ Body: { id: string; host: string; port: number; http_port: number; tls_port?: number } } & ForceQuery>(
    '/v1/cluster/members',
    { schema: { description: 'Add a member: it joins as a learner and is promoted once caught up', body: memberSchema, querystring: forceQuery } },
    async (req, reply) => {
      const b = req.body;
      // checkMember refuses port 0 unless a TLS port is given (a TLS-only member), naming the field.
      const m = checkMember({ id: b.id, host: b.host, port: b.port, httpPort: b.http_port, ...(b.tls_port ? { tlsPort: b.tls_port } : {}) });
      await node.addMember(m, { force: req.query.force === true });
      return reply.code(202).send({ ok: true, id: b.id, status: 'learner' });
    },
  );

  app.delete<{ Params: { id: string } } & ForceQuery>(
    '/v1/cluster/members/:id',
    {
      schema: {
        description: 'Remove a member (refused if it would leave too few active voters, unless forced)',
        params: { type: 'object', properties: { id: idSchema }, required: ['id'] },
        querystring: forceQuery,
      },
    },
    async (req) => {
      const force = req.query.force === true;
      const refused = force ? undefined : removalRefused(req.params.id);
      if (refused !== undefined) throw new HttpError(409, 'holds_replicas', refused);
      await node.removeMember(req.params.id, { force });
      return { ok: true, removed: req.params.id };
    },
  );

  app.post<{ Params: { id: string } } & ForceQuery>(
    '/v1/cluster/members/:id/promote',
    {
      schema: {
        description: 'Make a learner a voter (refused while it is behind; caught-up learners are promoted automatically)',
        params: { type: 'object', properties: { id: idSchema }, required: ['id'] },
        querystring: forceQuery,
      },
    },
    async (req) => {
      await node.promoteMember(req.params.id, { force: req.query.force === true });
      return { ok: true, promoted: req.params.id };
    },
  );

  app.post<{ Body: { to?: string } | undefined }>(
    '/v1/cluster/transfer-leadership',
    {
      schema: {
        description: 'Hand leadership to a voter (the most caught-up one when `to` is absent)',
        body: { type: ['object', 'null'], properties: { to: idSchema }, additionalProperties: false },
      },
    },
    async (req) => {
      const leader = await node.transferLeadership(req.body?.to);
      return { ok: true, leader };
    },
  );
}
