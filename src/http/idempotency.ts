/**
 * The Idempotency-Key header of HTTP writes (issue 11, hole 5). A client that sends a key with a
 * write may resend the same request with the same key after any failure, a 504 outcome_unknown
 * included, to any node: the write applies at most once, and every attempt answers the first
 * result (the header draft: draft-ietf-httpapi-idempotency-key-header; Stripe's API).
 *
 * The route puts a SESSION op first in the write's entry: the key, a SHA-256 of the request
 * (method, path, canonical body) and this node's idempotency-ttl-ms. The state machine keeps the
 * record (kv/sessions.ts), so it is replicated, snapshotted and survives failovers and restarts.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type KvResult, MAX_SESSION_KEY_BYTES, type OpOf, SESSION_ERR } from '../kv/index.ts';
import { IDEMPOTENCY_ERRORS } from './errors.ts';

/** For the write routes' schema, so /openapi.json documents the header (checked by sessionOp). */
export const idempotencyHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      description:
        'Up to 255 printable ASCII characters, unique per request: a retry with the same key answers the first result (header Idempotent-Replayed: true) and applies nothing; another request with it is 422',
    },
  },
} as const;

/** Printable ASCII, spaces inside allowed (the header's OWS is already trimmed). */
const PRINTABLE = /^[\x20-\x7e]+$/;

/**
 * The SESSION op for this request, or undefined when it has no Idempotency-Key. `path` and
 * `body` are the request as the route understood it (decoded key, parsed body), so the same
 * request spelled differently (%-escapes, JSON spacing) is still the same request.
 */
export function sessionOp(req: FastifyRequest, ttlMs: number, path: string, body: unknown): OpOf<'session'> | undefined {
  const header = req.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header.join(', ') : header;
  if (key.length === 0) throw IDEMPOTENCY_ERRORS.invalid('is empty');
  if (key.length > MAX_SESSION_KEY_BYTES) throw IDEMPOTENCY_ERRORS.invalid(`is ${key.length} bytes; at most ${MAX_SESSION_KEY_BYTES}`);
  if (!PRINTABLE.test(key)) throw IDEMPOTENCY_ERRORS.invalid('may hold only printable ASCII characters');
  const fingerprint = createHash('sha256')
    .update(`${req.method}\0${path}\0`)
    .update(JSON.stringify(body ?? null))
    .digest();
  return { type: 'session', key: Buffer.from(key, 'latin1'), fingerprint, ttlMs };
}

/**
 * The results of an entry led by a SESSION op, without its own; the log index of the entry that
 * applied the request (the same on every attempt). A replay is marked with the
 * `Idempotent-Replayed: true` header, as Stripe does.
 */
export function sessionOutcome(results: KvResult[], reply: FastifyReply): { results: KvResult[]; index: number } {
  const head = results[0];
  if (head?.type === 'error') throw head.message === SESSION_ERR.conflict ? IDEMPOTENCY_ERRORS.reused() : IDEMPOTENCY_ERRORS.unusable(head.message);
  const [state, index] = head?.type === 'array' ? head.value : [];
  if (state?.type !== 'status' || index?.type !== 'int') throw IDEMPOTENCY_ERRORS.unusable('unexpected result');
  if (state.value === 'replayed') reply.header('idempotent-replayed', 'true');
  return { results: results.slice(1), index: Number(index.value) };
}
