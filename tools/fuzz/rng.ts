/**
 * The fuzzer's seeded PRNG (splitmix32), with the draws its generators need. Nothing in the
 * fuzzer calls Math.random(): every input follows from `--seed` and the iteration it starts
 * at (see `sessionRng`), so a seed replays the same bytes and one session can be regenerated
 * alone from a crash record.
 */
import { SplitMix32 } from '../../test/support/splitmix32.ts';

export class Rng extends SplitMix32 {
  /** An integer in [0, max], log-uniform: small values far likelier (sizes, counts, repeats). */
  skewed(max: number): number {
    return Math.min(max, Math.floor(Math.exp(this.next() * Math.log(max + 1))) - 1);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.u32() % items.length];
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** The generator of the session that starts at `iteration` of a run seeded with `seed`. */
export function sessionRng(seed: number, iteration: number): Rng {
  // Mix both through one splitmix step each, so neighbouring seeds and iterations diverge.
  const a = new Rng(seed ^ 0x5bd1e995).u32();
  return new Rng((Math.imul(a, 0x27d4eb2d) ^ new Rng(iteration + 0x632be5ab).u32()) >>> 0);
}
