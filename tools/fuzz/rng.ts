/**
 * The fuzzer's seeded PRNG (splitmix32), with the draws its generators need. Nothing in the
 * fuzzer calls Math.random(): every input follows from `--seed` and the iteration it starts
 * at (see `sessionRng`), so a seed replays the same bytes and one session can be regenerated
 * alone from a crash record.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** 32 random bits. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.u32() / 2 ** 32;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** An integer in [0, max], log-uniform: small values far likelier (sizes, counts, repeats). */
  skewed(max: number): number {
    return Math.min(max, Math.floor(Math.exp(this.next() * Math.log(max + 1))) - 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
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
