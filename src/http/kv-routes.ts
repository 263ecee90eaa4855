/**
 * /v1/kv/:key. Reads are linearizable on every node (a follower's ReadIndex is confirmed by the
 * leader); writes on a follower answer 307 with the leader's URL. Writes take an
 * Idempotency-Key header (idempotency.ts): a retry with the same key answers the first result.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { KvOp, KvResult } from '../kv/index.ts';
import { keyHashSlot } from '../kv/slot.ts';
import type { RaftNode } from '../node/raft-node.ts';
import { HttpError } from './errors.ts';
import { idempotencyHeaders, sessionOp, sessionOutcome } from './idempotency.ts';

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

/**
 * `nodeFor`: the group replica that holds a key: the node itself on a single-group node; on a
 * multi-group node, this node's replica of the key's group (or an HttpError when it has none).
 */
export function registerKvRoutes(app: FastifyInstance, nodeFor: (key: Buffer) => RaftNode): void {
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
      const key = Buffer.from(req.params.key);
      const node = nodeFor(key);
      await node.linearizableBarrier();
      if (!node.kv.ownsKey(key)) throw tryAgain(key);
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
        headers: idempotencyHeaders,
        body: {
          type: 'object',
          properties: { value: { type: 'string' }, ttl_ms: { type: 'integer', minimum: 1 } },
          required: ['value'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, index: { type: 'integer' } } } },
      },
    },
    async (req, reply) => {
      const node = nodeFor(Buffer.from(req.params.key));
      const value = Buffer.from(req.body.value);
      if (value.length > node.cfg.maxValueBytes) {
        throw new HttpError(413, 'value_too_large', `value of ${value.length} bytes exceeds max-value-bytes (${node.cfg.maxValueBytes})`);
      }
      const key = Buffer.from(req.params.key);
      // The request as sent (ttl_ms, not the deadline this attempt computes) is what a retry repeats.
      const session = sessionOp(req, node.cfg.idempotencyTtlMs, `/v1/kv/${req.params.key}`, [req.body.value, req.body.ttl_ms ?? null]);
      const pxat = req.body.ttl_ms === undefined ? undefined : node.now() + req.body.ttl_ms;
      const { results, index } = await write(node, [{ type: 'set', key, value, ...(pxat === undefined ? {} : { pxat }) }], session, reply);
      const [result] = results;
      if (result?.type === 'moved') throw tryAgain(key);
      if (result?.type === 'error') throw new HttpError(409, 'rejected', result.message);
      return { ok: true, index };
    },
  );

  app.delete<{ Params: { key: string } }>(
    '/v1/kv/:key',
    {
      schema: {
        description: 'Delete a key',
        params: keyParams,
        headers: idempotencyHeaders,
        response: { 200: { type: 'object', properties: { deleted: { type: 'integer' } } } },
      },
    },
    async (req, reply) => {
      const node = nodeFor(Buffer.from(req.params.key));
      const session = sessionOp(req, node.cfg.idempotencyTtlMs, `/v1/kv/${req.params.key}`, null);
      const { results } = await write(node, [{ type: 'del', keys: [Buffer.from(req.params.key)] }], session, reply);
      const [result] = results;
      if (result?.type === 'moved') throw tryAgain(Buffer.from(req.params.key));
      return { deleted: result?.type === 'int' ? Number(result.value) : 0 };
    },
  );
}

/** A key whose shard gave its slot up while the request ran (a split): nothing was done. */
function tryAgain(key: Buffer): HttpError {
  return new HttpError(503, 'try_again', `the shard holding slot ${keyHashSlot(key)} is changing; retry`);
}

/**
 * Proposes `ops`, led by the request's SESSION op when it has an Idempotency-Key. `index`: the
 * entry that applied the request (every attempt alike) with a key, else the node's applied index.
 */
async function write(node: RaftNode, ops: KvOp[], session: KvOp | undefined, reply: FastifyReply): Promise<{ results: KvResult[]; index: number }> {
  if (session === undefined) {
    const results = await node.propose(ops);
    return { results, index: node.appliedIndex };
  }
  return sessionOutcome(await node.propose([session, ...ops]), reply);
}
