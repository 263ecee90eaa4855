/**
 * ttl: keys written once with `SET k v PX ttl`, then read by many clients around their expiry;
 * see check/ttl.ts for what a read may return when. TTLs are long enough that the "must still
 * be there" bound (ttl minus twice the clock-skew bound) stays meaningful under skew.
 */
import { checkTtl } from '../check/ttl.ts';
import { OpFn } from '../history/ops.ts';
import type { Random } from '../random.ts';
import type { Request } from './client.ts';
import type { Workload } from './workload.ts';

interface TtlKey {
  key: string;
  ttl: number;
  created: number;
}

export class TtlWorkload implements Workload {
  readonly name = 'ttl';
  private readonly keys: TtlKey[] = [];
  private readonly minTtl: number;
  private readonly maxTtl: number;

  /** `skewMs`: the clock nemesis's bound (0 without it). */
  constructor(private readonly skewMs: number) {
    this.minTtl = 300;
    this.maxTtl = 2500 + 4 * skewMs;
  }

  /** Keys still worth reading: not yet past their latest possible expiry plus a margin. */
  private live(now: number): TtlKey[] {
    const horizon = 4 * this.skewMs + 1000;
    const out: TtlKey[] = [];
    for (let i = this.keys.length - 1; i >= 0; i--) {
      const k = this.keys[i];
      if (now - k.created > this.maxTtl + horizon) break;
      if (now - k.created <= k.ttl + horizon) out.push(k);
    }
    return out;
  }

  next(rnd: Random, now: number): Request {
    const live = this.live(now);
    if (live.length < 4 || rnd.chance(0.15)) {
      const k = { key: `t${this.keys.length}`, ttl: rnd.int(this.minTtl, this.maxTtl), created: now };
      this.keys.push(k);
      return { f: OpFn.SetPx, key: k.key, value: `v${this.keys.length - 1}`, ttl: k.ttl };
    }
    return { f: OpFn.Get, key: rnd.pick(live).key };
  }

  probes(): Request[] {
    return this.keys.slice(-3).map((k) => ({ f: OpFn.Get, key: k.key }));
  }

  finalDelayMs(now: number): number {
    const last = this.keys[this.keys.length - 1];
    return last ? Math.max(0, last.created + this.maxTtl + 2 * this.skewMs + 500 - now) : 0;
  }

  finals(): Request[] {
    return this.keys.map((k) => ({ f: OpFn.Get, key: k.key, final: true }));
  }

  check(ops: Parameters<Workload['check']>[0]) {
    return checkTtl(ops, { skewMs: this.skewMs });
  }
}
