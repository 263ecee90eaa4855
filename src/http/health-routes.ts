import type { FastifyInstance } from 'fastify';
import type { RaftNode } from '../node/raft-node.ts';
import { groupsMetrics } from './group-metrics.ts';

export function registerHealthRoutes(
  app: FastifyInstance,
  node: RaftNode,
  /** A multi-group node's groups: ready only once every one of them is; /metrics labels each. */
  groups?: ReadonlyMap<number, RaftNode>,
): void {
  app.get('/healthz', { schema: { description: 'The process is up' } }, async () => ({ ok: true }));

  // Ready means clients can be served: a leader is known and this node has applied everything
  // it knows to be committed.
  app.get('/readyz', { schema: { description: 'A leader is known and this node has caught up' } }, async (_req, reply) => {
    const s = node.status();
    // A removed node is never ready: it no longer follows any leader.
    if (node.removal.removed) return reply.code(503).send({ ready: false, removed: true, reason: node.removal.reason });
    let ready = s.leader !== '' && s.applied >= s.commit;
    const body: Record<string, unknown> = { ready, leader: s.leader || null, commit: s.commit, applied: s.applied };
    if (groups !== undefined) {
      // Per group; the top-level fields are group 0's (the metadata group, on every node). A
      // learner (a replica moving in) may lag while it catches up: the node serves its other
      // groups meanwhile, so only a voter's lag counts.
      const waiting: number[] = [];
      for (const [id, g] of groups) {
        const gs = g.status();
        if (gs.leader === '' || (gs.applied < gs.commit && !gs.learners.includes(gs.id))) waiting.push(id);
      }
      ready &&= waiting.length === 0;
      body.ready = ready;
      body.groups = groups.size;
      body.groups_not_ready = waiting.sort((a, b) => a - b);
    }
    return reply.code(ready ? 200 : 503).send(body);
  });

  app.get('/metrics', { schema: { description: 'Prometheus metrics', hide: true } }, async (_req, reply) => {
    if (groups !== undefined && groups.size > 1) {
      const { text, contentType } = await groupsMetrics(groups);
      return reply.type(contentType).send(text);
    }
    const text = await node.metrics.registry.metrics();
    return reply.type(node.metrics.registry.contentType).send(text);
  });
}
