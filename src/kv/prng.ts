import type { Rng } from './ops.ts';

/**
 * mulberry32: a tiny deterministic PRNG. Apply seeds it with the log index (RANDOMKEY inside
 * MULTI must pick the same key on every replica); tests seed it so their data replays.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
