/**
 * register: GET, SET and SET..GET on a few hot keys. Each key takes a bounded number of
 * operations and is then retired for a fresh one, as Jepsen's independent keys do: the
 * linearizability search is exponential in the concurrency of one key's history (indeterminate
 * writes stay concurrent with everything after them), so short per-key histories keep it fast
 * while the many keys keep the run long.
 */
import { checkRegister } from '../check/register.ts';
import { OpFn } from '../history/ops.ts';
import type { Random } from '../random.ts';
import type { Request } from './client.ts';
import type { Workload } from './workload.ts';

export interface RegisterOptions {
  /** Keys in use at once. */
  hotKeys: number;
  /** Operations per key before it is retired. */
  opsPerKey: number;
}

export class RegisterWorkload implements Workload {
  readonly name = 'register';
  private readonly active: { key: string; ops: number }[] = [];
  private readonly used: string[] = [];
  private nextKey = 0;
  private nextValue = 0;

  constructor(private readonly opts: RegisterOptions = { hotKeys: 3, opsPerKey: 120 }) {
    for (let i = 0; i < opts.hotKeys; i++) this.active.push(this.fresh());
  }

  private fresh(): { key: string; ops: number } {
    const key = `r${this.nextKey++}`;
    this.used.push(key);
    return { key, ops: 0 };
  }

  next(rnd: Random): Request {
    const slot = rnd.int(0, this.active.length - 1);
    const k = this.active[slot];
    if (++k.ops >= this.opts.opsPerKey) this.active[slot] = this.fresh();
    const roll = rnd.next();
    if (roll < 0.5) return { f: OpFn.Get, key: k.key };
    const value = String(this.nextValue++);
    return { f: roll < 0.8 ? OpFn.Set : OpFn.GetSet, key: k.key, value };
  }

  probes(): Request[] {
    return this.active.map((k) => ({ f: OpFn.Get, key: k.key }));
  }

  finalDelayMs(): number {
    return 0;
  }

  finals(): Request[] {
    return this.used.map((key) => ({ f: OpFn.Get, key, final: true }));
  }

  check(ops: Parameters<Workload['check']>[0]) {
    return checkRegister(ops);
  }
}
