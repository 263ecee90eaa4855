/** counter: INCR (and some GETs) on a couple of counters; see check/counter.ts. */
import { checkCounter } from '../check/counter.ts';
import { OpFn } from '../history/ops.ts';
import type { Random } from '../random.ts';
import type { Request } from './client.ts';
import type { Workload } from './workload.ts';

export class CounterWorkload implements Workload {
  readonly name = 'counter';
  private readonly keys: string[];

  constructor(counters = 2) {
    this.keys = Array.from({ length: counters }, (_, i) => `c${i}`);
  }

  next(rnd: Random): Request {
    const key = rnd.pick(this.keys);
    return rnd.chance(0.8) ? { f: OpFn.Incr, key } : { f: OpFn.Get, key };
  }

  probes(): Request[] {
    return this.keys.map((key) => ({ f: OpFn.Get, key }));
  }

  finalDelayMs(): number {
    return 0;
  }

  finals(): Request[] {
    return this.keys.map((key) => ({ f: OpFn.Get, key, final: true }));
  }

  check(ops: Parameters<Workload['check']>[0]) {
    return checkCounter(ops);
  }
}
