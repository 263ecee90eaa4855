/**
 * The chaos suite's seeded PRNG (splitmix32, test/support/splitmix32.ts), so that a run's
 * choices (which nemesis, which node, which key, which value) follow from `--seed`. Timing still depends on the machine, so a seed
 * reproduces the schedule of faults and operations, not the exact interleaving.
 */
import { SplitMix32 } from '../test/support/splitmix32.ts';

export class Random extends SplitMix32 {
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)];
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** An independent stream, so that one consumer's draws do not shift another's. */
  fork(): Random {
    return new Random(Math.floor(this.next() * 2 ** 32));
  }
}
