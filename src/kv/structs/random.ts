/**
 * Random picks for HRANDFIELD, SRANDMEMBER, SPOP and ZRANDMEMBER, drawn from the seeded
 * generator apply already has (src/kv/prng.ts, seeded with the log index), so every replica
 * picks the same positions. Redis's count rule: a count >= 0 asks for that many distinct
 * positions (all of them when count >= size), a negative count for |count| positions that may
 * repeat. Which positions Redis itself would pick is not reproducible (its generator is not
 * ours); the guarantees are the distribution and the determinism.
 */
import type { Rng } from '../ops.ts';

/**
 * The most picks a negative count may ask for (they may repeat, so the collection's size does
 * not bound them). Redis has no bound and builds the reply until the client's output limit
 * stops it; RaftKV refuses more, before proposing and again at apply.
 */
export const MAX_RANDOM_COUNT = 1_000_000;
export const ERR_RANDOM_COUNT = `ERR count is out of range (at most ${MAX_RANDOM_COUNT} picks that may repeat)`;

/** One position in [0, size). */
export function pickIndex(rng: Rng, size: number): number {
  return Math.floor(rng() * size);
}

/**
 * Positions in [0, size) by Redis's count rule. Distinct picks of most of the collection shuffle
 * a position array (O(size)); a few distinct picks draw and reject repeats (O(count)). The
 * caller bounds |count| (the reply must fit), as Redis does.
 */
export function pickIndices(rng: Rng, size: number, count: number): number[] {
  const out: number[] = [];
  if (size === 0 || count === 0) return out;
  if (count < 0) {
    for (let k = 0; k < -count; k++) out.push(pickIndex(rng, size));
    return out;
  }
  if (count >= size) {
    for (let k = 0; k < size; k++) out.push(k);
    return out;
  }
  if (count * 3 > size) {
    // Partial Fisher-Yates: the first `count` slots end up a uniform sample, in random order.
    const all: number[] = [];
    for (let k = 0; k < size; k++) all.push(k);
    for (let k = 0; k < count; k++) {
      const j = k + pickIndex(rng, size - k);
      const t = all[k];
      all[k] = all[j];
      all[j] = t;
    }
    all.length = count;
    return all;
  }
  const seen = new Set<number>();
  while (out.length < count) {
    const i = pickIndex(rng, size);
    if (seen.has(i)) continue;
    seen.add(i);
    out.push(i);
  }
  return out;
}
