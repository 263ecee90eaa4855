/**
 * Each replica keeps a digest chained over every entry it applied, so two replicas at the same
 * index can be compared in O(1); a restored replica starts from the digest its snapshot's index
 * had (the monitor knows it: someone applied up to there to take the snapshot).
 */
import type { Entry } from '../../src/raft/index.ts';

/** FNV-1a over bytes, continuing from `h`. */
export function fnv(h: number, bytes: Uint8Array): number {
  let x = h >>> 0;
  for (let i = 0; i < bytes.length; i++) x = Math.imul(x ^ bytes[i], 0x01000193) >>> 0;
  return x;
}

export function mixInt(h: number, n: number): number {
  let x = Math.imul(h ^ (n & 0xffff), 0x01000193) >>> 0;
  x = Math.imul(x ^ (n >>> 16), 0x01000193) >>> 0;
  return x;
}

export const GENESIS_DIGEST = 0x811c9dc5;

/** The digest after applying `e` on top of `digest`. */
export function chainDigest(digest: number, e: Entry): number {
  return fnv(mixInt(mixInt(mixInt(digest, e.index), e.term), e.type), e.data);
}
