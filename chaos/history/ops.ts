/**
 * The chaos history: one record per client operation, as sent over RESP, with its outcome.
 * `history.jsonl` holds these, one per line, in completion order. The checkers translate them
 * into the shared register model (test/support/history.ts) or check them directly.
 */
import { OpStatus } from '../../test/support/history.ts';

export { OpStatus };

export const OpFn = {
  /** GET key */
  Get: 'get',
  /** SET key value */
  Set: 'set',
  /** SET key value GET: writes and returns the previous value */
  GetSet: 'getset',
  /** SET key value PX ttl */
  SetPx: 'set-px',
  /** INCR key */
  Incr: 'incr',
  /** LPUSH key value (the queue workload); the list's new length */
  Enqueue: 'enqueue',
  /** BRPOP key timeout: the element popped, or null when the timeout passed */
  Dequeue: 'dequeue',
  /** RPOP key: the element popped, or null on an empty list */
  Pop: 'pop',
  /** LMOVE key value RIGHT LEFT: the element moved into the processing list `value`, or null */
  Move: 'move',
  /** LREM key 1 value: a worker acknowledges the element it moved into its processing list `key` */
  Ack: 'ack',
  /** LRANGE key 0 -1 after recovery: the elements left, as a JSON array */
  Drain: 'drain',
} as const;
export type OpFn = (typeof OpFn)[keyof typeof OpFn];

export interface ChaosOp {
  /** Position in completion order. */
  index: number;
  /** The logical client; a client whose operation was indeterminate continues under a new number. */
  process: number;
  /** The worker that issued it (a timeline lane): 0..concurrency-1, then probes and final reads. */
  client: number;
  /** The node the request went to. */
  node: string;
  f: OpFn;
  key: string;
  /** What SET, SET..GET and SET..PX wrote. */
  value?: string;
  ttl?: number;
  status: OpStatus;
  /** GET's value, SET..GET's previous value, INCR's new value (ok operations only). */
  result?: string | number | null;
  /** The error text of a fail or info operation. */
  error?: string;
  /** Milliseconds since the harness started: request sent, and reply seen (or given up on). */
  call: number;
  return: number;
  /** Sent during the recovery phase after every fault was healed. */
  final?: boolean;
}

export const isWrite = (f: OpFn) => f !== OpFn.Get && f !== OpFn.Drain;
