/**
 * The 1M-key store the stall tests (snapshot-1m, split-1m) build: 16-byte keys and 100-byte
 * values, loaded through MSET entries of 1000 pairs, so each test measures its own work on the
 * same keyspace.
 */
import { Buffer } from 'node:buffer';
import type { KvStore } from '../../src/kv/store.ts';

export const MILLION = 1_000_000;

/** Key i (16 bytes), written into `into` when given. */
export function keyAt(i: number, into = Buffer.allocUnsafe(16)): Buffer {
  into.write(`key:${String(i).padStart(12, '0')}`, 'latin1');
  return into;
}

/** Value i (100 bytes), written into `into` when given. */
export function valueAt(i: number, into = Buffer.allocUnsafe(100)): Buffer {
  into.fill(0x61 + (i % 26));
  into.writeUInt32BE(i, 0);
  return into;
}

/** Applies keys 0..n-1 to `store` from index 1 on; returns the last index used. */
export function loadKeys(store: KvStore, n = MILLION): number {
  let index = 0;
  const slab = Buffer.allocUnsafe(1000 * 116);
  for (let i = 0; i < n; i += 1000) {
    const pairs: [Buffer, Buffer][] = [];
    for (let j = 0; j < 1000 && i + j < n; j++) {
      const at = j * 116;
      pairs.push([keyAt(i + j, slab.subarray(at, at + 16)), valueAt(i + j, slab.subarray(at + 16, at + 116))]);
    }
    store.apply({ ts: 1, ops: [{ type: 'mset', pairs }] }, ++index);
  }
  return index;
}
