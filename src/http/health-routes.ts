import type { FastifyInstance } from 'fastify';
import type { RaftNode } from '../node/raft-node.ts';

export function registerHealthRoutes(app: FastifyInstance, node: RaftNode): void {
  app.get('/healthz', { schema: { description: 'The process is up' } }, async () => ({ ok: true }));

  // Ready means clients can be served: a leader is known and this node has applied everything
  // it knows to be committed.
  app.get('/readyz', { schema: { description: 'A leader is known and this node has caught up' } }, async (_req, reply) => {
    const s = node.status();
    // A removed node is never ready: it no longer follows any leader.
    if (node.removal.removed) return reply.code(503).send({ ready: false, removed: true, reason: node.removal.reason });
    const ready = s.leader !== '' && s.applied >= s.commit;
    return reply.code(ready ? 200 : 503).send({ ready, leader: s.leader || null, commit: s.commit, applied: s.applied });
  });

  app.get('/metrics', { schema: { description: 'Prometheus metrics', hide: true } }, async (_req, reply) => {
    const text = await node.metrics.registry.metrics();
    return reply.type(node.metrics.registry.contentType).send(text);
  });
}
