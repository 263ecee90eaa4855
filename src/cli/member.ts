/**
 * `raftkv member list|add|remove|promote`: membership over the HTTP API
 * (src/http/cluster-routes.ts), as etcdctl's `member`. The helpers every operator command of
 * this kind shares (leader.ts too) are at the end. Changes go to the leader whichever endpoint is named (followers redirect);
 * `list` shows the leader's view, since a follower's may lag and a removed node's is stale.
 *
 * Exit codes: 0 done; 1 the cluster refused or could not be reached (one line saying why);
 * 2 a usage error. docs/operations.md has the runbooks that use these.
 */
import { parseArgs } from 'node:util';
import { ConfigError, parsePeers } from '../node/config.ts';
import { API_FLAGS, ApiClient, ApiError, type ApiResponse, apiOptions, jsonBody } from './api-client.ts';

export const FLAGS_HELP = `flags: --endpoints URL,... (RAFTKV_ENDPOINTS; default http://127.0.0.1:16379)
       --token T (RAFTKV_HTTP_TOKEN or REDISCLI_AUTH)  --cacert FILE  --timeout-ms N`;

export const MEMBER_USAGE = `usage:
  raftkv member list [-o table|json]
  raftkv member add ID=HOST:PORT[:HTTP_PORT[:TLS_PORT]] [--force]   start the node with --join first; it joins as a learner
  raftkv member promote ID [--force]                                make a caught-up learner a voter (automatic once caught up)
  raftkv member remove ID [--force]
  raftkv member drain ID [--undo]                                   sharded clusters: move its replicas and leaders away before removal
  --force: make the change even if the leader finds too few active voters to commit it or
           anything after it (refused by default with unsafe_reconfig: it would wedge the cluster)
${FLAGS_HELP}`;

/** What /v1/cluster answers, as far as these commands read it. */
interface ClusterView {
  id: string;
  cluster_id?: string | null;
  leader: string | null;
  voters: string[];
  learners: string[];
  members: Array<{ id: string; host: string; port: number; http_port: number; tls_port?: number }>;
}

export interface MemberRow {
  id: string;
  role: 'voter' | 'learner';
  leader: boolean;
  host: string | null;
  port: number | null;
  http_port: number | null;
  tls_port?: number;
}

export async function runMember(argv: string[]): Promise<void> {
  const flags = { output: { type: 'string', short: 'o' }, force: { type: 'boolean' }, undo: { type: 'boolean' } } as const;
  await command('member', MEMBER_USAGE, argv, flags, async (args, values, api, switches) => {
    const [sub, ...rest] = args;
    usageIf(switches.has('force') && sub !== 'add' && sub !== 'remove' && sub !== 'promote', '--force goes with member add, remove or promote');
    usageIf(switches.has('undo') && sub !== 'drain', '--undo goes with member drain');
    // The strict reconfiguration check's override (src/node/reconfig-check.ts).
    const force = switches.has('force') ? '?force=true' : '';
    switch (sub) {
      case 'list': {
        usageIf(rest.length > 0, `member list takes no arguments, got '${rest.join(' ')}'`);
        const format = values.output ?? 'table';
        usageIf(format !== 'table' && format !== 'json', `-o must be table or json, got '${format}'`);
        const view = await leaderView(api());
        const rows = memberRows(view);
        if (format === 'json') out(JSON.stringify({ cluster_id: view.cluster_id ?? null, leader: view.leader, members: rows }, null, 2));
        else out(table(rows));
        return;
      }
      case 'add': {
        usageIf(rest.length !== 1, 'member add takes one ID=HOST:PORT[:HTTP_PORT[:TLS_PORT]]');
        const [m] = parsePeers(rest[0], 'member');
        const body = { id: m.id, host: m.host, port: m.port, http_port: m.httpPort, ...(m.tlsPort ? { tls_port: m.tlsPort } : {}) };
        ok(await api().toLeader('POST', `/v1/cluster/members${force}`, body));
        out(`added member ${m.id} (${m.host}:${m.port}, http ${m.httpPort}) as a learner; it becomes a voter once it has caught up`);
        return;
      }
      case 'remove': {
        const id = oneId(rest, 'member remove');
        ok(await api().toLeader('DELETE', `/v1/cluster/members/${encodeURIComponent(id)}${force}`));
        out(`removed member ${id}`);
        return;
      }
      case 'promote': {
        const id = oneId(rest, 'member promote');
        ok(await api().toLeader('POST', `/v1/cluster/members/${encodeURIComponent(id)}/promote${force}`));
        out(`promoted member ${id} to voter`);
        return;
      }
      case 'drain': {
        const id = oneId(rest, 'member drain');
        const undo = switches.has('undo');
        const r = ok<{ replicas: number[] }>(await api().toLeader(undo ? 'DELETE' : 'POST', `/v1/cluster/members/${encodeURIComponent(id)}/drain`));
        if (undo) out(`member ${id} is no longer draining`);
        else if (r.replicas.length === 0) out(`member ${id} is draining and holds no shard replica: it can be removed`);
        else out(`member ${id} is draining: the rebalancer moves its replicas of shards ${r.replicas.join(',')} away (raftkv shard list shows progress)`);
        return;
      }
      default:
        throw new ApiError(sub === undefined ? 'no subcommand' : `unknown subcommand '${sub}'`, true);
    }
  });
}

/** The voters and learners, leader first, with the addresses the cluster knows. */
export function memberRows(view: ClusterView): MemberRow[] {
  const byId = new Map(view.members.map((m) => [m.id, m]));
  const row = (id: string, role: MemberRow['role']): MemberRow => {
    const m = byId.get(id);
    return {
      id,
      role,
      leader: id === view.leader,
      host: m?.host ?? null,
      port: m?.port ?? null,
      http_port: m?.http_port ?? null,
      ...(m?.tls_port ? { tls_port: m.tls_port } : {}),
    };
  };
  const rows = [...view.voters.map((id) => row(id, 'voter')), ...view.learners.map((id) => row(id, 'learner'))];
  return rows.sort((a, b) => Number(b.leader) - Number(a.leader) || a.id.localeCompare(b.id));
}

function table(rows: MemberRow[]): string {
  const cells = [['ID', 'ROLE', 'LEADER', 'RESP', 'HTTP', 'TLS']];
  for (const r of rows) {
    const addr = (port: number | null | undefined) => (r.host === null || !port ? '-' : `${r.host.includes(':') ? `[${r.host}]` : r.host}:${port}`);
    cells.push([r.id, r.role, r.leader ? 'yes' : 'no', addr(r.port), addr(r.http_port), addr(r.tls_port)]);
  }
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells
    .map((c) =>
      c
        .map((v, i) => v.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The leader's /v1/cluster if the first endpoint that answers names one (a follower's view may
 * lag), else that endpoint's own. Members serve one scheme (docs/security.md), so the leader's
 * HTTP port is reached with the endpoint's.
 */
async function leaderView(api: ApiClient): Promise<ClusterView> {
  const res = await api.first('GET', '/v1/cluster');
  const first = ok<ClusterView>(res);
  const m = first.members.find((x) => x.id === first.leader);
  if (!first.leader || first.leader === first.id || !m) return first;
  const scheme = new URL(res.endpoint).protocol;
  const host = m.host.includes(':') ? `[${m.host}]` : m.host;
  try {
    return ok<ClusterView>(await api.request(`${scheme}//${host}:${m.http_port}`, 'GET', '/v1/cluster'));
  } catch {
    return first;
  }
}

/** The JSON body of a 2xx answer; otherwise an ApiError with the cluster's own message. */
export function ok<T>(res: ApiResponse): T {
  const body = jsonBody<{ message?: string; error?: string } & T>(res);
  if (res.status >= 200 && res.status < 300) return body;
  const why = body.message ?? body.error ?? `HTTP ${res.status}`;
  throw new ApiError(`${res.endpoint}: ${why} (${res.status}${body.error ? ` ${body.error}` : ''})`);
}

function oneId(rest: string[], what: string): string {
  usageIf(rest.length !== 1, `${what} takes one member ID`);
  usageIf(!/^[A-Za-z0-9_.-]{1,64}$/.test(rest[0]), `'${rest[0]}' is not a node id`);
  return rest[0];
}

export function usageIf(cond: boolean, message: string): void {
  if (cond) throw new ApiError(message, true);
}

export function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

type Values = Record<string, string | boolean | undefined>;

/**
 * Parses `argv` (API_FLAGS, `extra`, -h) and runs `fn`; every failure ends the process with one
 * line on stderr: exit 2 for usage (with the usage text), 1 for the rest.
 */
export async function command(
  name: string,
  usage: string,
  argv: string[],
  extra: Record<string, { type: 'string' | 'boolean'; short?: string }>,
  /**
   * `api` is made on first use, so that usage errors in the arguments are reported first;
   * `switches` holds the boolean flags of `extra` that were given.
   */
  fn: (args: string[], values: Record<string, string | undefined>, api: () => ApiClient, switches: Set<string>) => Promise<void>,
): Promise<void> {
  try {
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({ args: argv, options: { ...API_FLAGS, ...extra, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new ApiError((err as Error).message.split('\n')[0], true);
    }
    if (parsed.values.help) {
      out(usage);
      process.exit(0);
    }
    const values: Record<string, string | undefined> = {};
    const switches = new Set<string>();
    for (const [k, v] of Object.entries(parsed.values)) {
      if (v === true) switches.add(k);
      else if (typeof v === 'string') values[k] = v;
    }
    let client: ApiClient | undefined;
    await fn(
      parsed.positionals,
      values,
      () => {
        client ??= new ApiClient(apiOptions(values));
        return client;
      },
      switches,
    );
  } catch (err) {
    const usageError = (err instanceof ApiError && err.usage) || err instanceof ConfigError;
    process.stderr.write(`raftkv ${name}: ${(err as Error).message}\n`);
    if (usageError) process.stderr.write(`${usage}\n`);
    process.exit(usageError ? 2 : 1);
  }
}
