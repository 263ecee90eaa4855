/**
 * queue: LPUSH of unique elements and blocking BRPOPs on a couple of list keys, the job-queue
 * pattern (issue 14); see check/queue.ts. Pops block for up to `blockMs`, so clients sit
 * blocked on the leader while the nemeses kill it or cut it off; the final LRANGEs count the
 * elements left.
 */
import { checkQueue } from '../check/queue.ts';
import { OpFn } from '../history/ops.ts';
import type { Random } from '../random.ts';
import type { Request } from './client.ts';
import type { Workload } from './workload.ts';

export class QueueWorkload implements Workload {
  readonly name = 'queue';
  private readonly keys: string[];
  private nextValue = 0;

  constructor(
    queues = 2,
    /** BRPOP's timeout: below the client's reply timeout, or every empty pop is indeterminate. */
    private readonly blockMs = 1000,
  ) {
    this.keys = Array.from({ length: queues }, (_, i) => `q${i}`);
  }

  next(rnd: Random): Request {
    const key = rnd.pick(this.keys);
    if (rnd.chance(0.5)) return { f: OpFn.Enqueue, key, value: `e${this.nextValue++}` };
    return { f: OpFn.Dequeue, key, ttl: this.blockMs };
  }

  probes(): Request[] {
    return [];
  }

  finalDelayMs(): number {
    return 0;
  }

  finals(): Request[] {
    return this.keys.map((key) => ({ f: OpFn.Drain, key, final: true }));
  }

  check(ops: Parameters<Workload['check']>[0]) {
    return checkQueue(ops);
  }
}
