/**
 * queue: the job-queue pattern (issue 14). Producers LPUSH unique elements into a few list keys;
 * consumers take them from the other end with the pop `--queue-pop` names:
 * - `rpop`: RPOP, the plain queue;
 * - `brpop`: BRPOP with a timeout, so clients sit blocked on the leader while the nemeses kill
 *   it or cut it off;
 * - `lmove`: the reliable-queue pattern (Redis's LMOVE docs, BullMQ, Sidekiq Pro): LMOVE the
 *   element into the client's own processing list, then LREM it there as the worker's
 *   acknowledgement; an element whose worker died stays in the processing list;
 * - `mixed` (the default): each pop picks one of the three.
 * The keys are hash-tagged (`{q0}`, and `{q0}:processing:w3` beside it) so that a queue and its
 * processing lists share a slot, and LMOVE works under `--shards N`. The final reads LRANGE
 * every queue and every processing list used; see check/queue.ts.
 */
import { checkQueue } from '../check/queue.ts';
import { type ChaosOp, OpFn, OpStatus } from '../history/ops.ts';
import type { Random } from '../random.ts';
import type { Request } from './client.ts';
import type { Workload } from './workload.ts';

export const QUEUE_POPS = ['mixed', 'rpop', 'brpop', 'lmove'] as const;
export type QueuePop = (typeof QUEUE_POPS)[number];
const SINGLE_POPS = ['rpop', 'brpop', 'lmove'] as const;

/** The processing list of one worker beside `queue` (same hash tag, so the same slot). */
export const processingList = (queue: string, worker: number) => `${queue}:processing:w${worker}`;

export class QueueWorkload implements Workload {
  readonly name = 'queue';
  private readonly keys: string[];
  private nextValue = 0;
  /** Every processing list an LMOVE was sent to, for the final reads. */
  private readonly lists = new Set<string>();
  /** Per worker: the element its last acknowledged LMOVE took, to LREM next. */
  private readonly pending = new Map<number, { list: string; element: string }>();

  constructor(
    private readonly pop: QueuePop = 'mixed',
    queues = 2,
    /** BRPOP's timeout: below the client's reply timeout, or every empty pop is indeterminate. */
    private readonly blockMs = 1000,
  ) {
    this.keys = Array.from({ length: queues }, (_, i) => `{q${i}}`);
  }

  next(rnd: Random, _now: number, worker: number): Request {
    const ack = this.pending.get(worker);
    if (ack !== undefined) {
      // The worker "did the job" and acknowledges it before taking anything else.
      this.pending.delete(worker);
      return { f: OpFn.Ack, key: ack.list, value: ack.element };
    }
    const key = rnd.pick(this.keys);
    if (rnd.chance(0.5)) return { f: OpFn.Enqueue, key, value: `e${this.nextValue++}` };
    const pop = this.pop === 'mixed' ? rnd.pick(SINGLE_POPS) : this.pop;
    switch (pop) {
      case 'rpop':
        return { f: OpFn.Pop, key };
      case 'brpop':
        return { f: OpFn.Dequeue, key, ttl: this.blockMs };
      case 'lmove': {
        const list = processingList(key, worker);
        this.lists.add(list);
        return { f: OpFn.Move, key, value: list };
      }
    }
  }

  observe(worker: number, op: ChaosOp): void {
    // Only a move known to have happened is acknowledged; after an indeterminate one the element
    // (if moved) stays in the processing list, as a crashed worker's would, for the final read.
    if (op.f === OpFn.Move && op.status === OpStatus.Ok && typeof op.result === 'string' && op.value !== undefined) {
      this.pending.set(worker, { list: op.value, element: op.result });
    }
  }

  probes(): Request[] {
    return [];
  }

  finalDelayMs(): number {
    return 0;
  }

  finals(): Request[] {
    return [...this.keys, ...[...this.lists].sort()].map((key) => ({ f: OpFn.Drain, key, final: true }));
  }

  check(ops: Parameters<Workload['check']>[0]) {
    return checkQueue(ops);
  }
}
