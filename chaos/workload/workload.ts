/** What a workload provides: the requests clients send, the final reads, and its checker. */
import type { CheckResult } from '../check/result.ts';
import type { ChaosOp } from '../history/ops.ts';
import type { Random } from '../random.ts';
import type { Request } from './client.ts';

export const WORKLOADS = ['register', 'counter', 'ttl', 'queue'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface Workload {
  readonly name: WorkloadName;
  /** The next request for a client; `now` is the run clock, `worker` the client loop asking. */
  next(rnd: Random, now: number, worker: number): Request;
  /** Sees each of a client loop's outcomes (the queue's workers acknowledge what they moved). */
  observe?(worker: number, op: ChaosOp): void;
  /** Reads sent to a node the moment it resumes from a pause, to catch a stale old leader. */
  probes(): Request[];
  /** How long to wait after recovery before the final reads (ttl: until every key expired). */
  finalDelayMs(now: number): number;
  /** Reads after recovery; each is retried until it gets an answer. */
  finals(): Request[];
  check(ops: readonly ChaosOp[]): CheckResult;
}
