/**
 * /v1/kv/:key. Reads are linearizable on every node (a follower's ReadIndex is confirmed by the
 * leader); writes on a follower answer 307 with the leader's URL.
 */
import type { FastifyInstance } from 'fastify';
import type { RaftNode } from '../node/raft-node.ts';
import { HttpError } from './errors.ts';

const keyParams = {
  type: 'object',
  properties: { key: { type: 'string', minLength: 1, maxLength: 65536 } },
  required: ['key'],
} as const;

const valueReply = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    value: { type: 'string' },
    ttl_ms: { type: ['integer', 'null'] },
  },
} as const;

const errorReply = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

export function registerKvRoutes(app: FastifyInstance, node: RaftNode): void {
  app.get<{ Params: { key: string } }>(
    '/v1/kv/:key',
    {
      schema: {
        description: 'Read a key (linearizable)',
        params: keyParams,
        response: { 200: valueReply, 404: errorReply },
      },
    },
    async (req, reply) => {
      await node.linearizableBarrier();
      const key = Buffer.from(req.params.key);
      // The node's clock, as RESP reads use: never behind the log (the timestamp rule).
      const now = node.now();
      const value = node.kv.get(key, now, { touch: true });
      if (value === null) {
        node.metrics.misses.inc();
        return reply.code(404).send({ error: 'not_found', message: `key '${req.params.key}' does not exist` });
      }
      node.metrics.hits.inc();
      const ttl = node.kv.ttl(key, now, 'ms');
      return { key: req.params.key, value: value.toString('utf8'), ttl_ms: ttl >= 0 ? ttl : null };
    },
  );

  app.put<{ Params: { key: string }; Body: { value: string; ttl_ms?: number } }>(
    '/v1/kv/:key',
    {
      schema: {
        description: 'Write a key, optionally with a time to live',
        params: keyParams,
        body: {
          type: 'object',
          properties: { value: { type: 'string' }, ttl_ms: { type: 'integer', minimum: 1 } },
          required: ['value'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, index: { type: 'integer' } } } },
      },
    },
    async (req) => {
      const value = Buffer.from(req.body.value);
      if (value.length > node.cfg.maxValueBytes) {
        throw new HttpError(413, 'value_too_large', `value of ${value.length} bytes exceeds max-value-bytes (${node.cfg.maxValueBytes})`);
      }
      const key = Buffer.from(req.params.key);
      const pxat = req.body.ttl_ms === undefined ? undefined : node.now() + req.body.ttl_ms;
      const [result] = await node.propose([{ type: 'set', key, value, ...(pxat === undefined ? {} : { pxat }) }]);
      if (result?.type === 'error') throw new HttpError(409, 'rejected', result.message);
      return { ok: true, index: node.appliedIndex };
    },
  );

  app.delete<{ Params: { key: string } }>(
    '/v1/kv/:key',
    {
      schema: {
        description: 'Delete a key',
        params: keyParams,
        response: { 200: { type: 'object', properties: { deleted: { type: 'integer' } } } },
      },
    },
    async (req) => {
      const [result] = await node.propose([{ type: 'del', keys: [Buffer.from(req.params.key)] }]);
      return { deleted: result?.type === 'int' ? Number(result.value) : 0 };
    },
  );
}
