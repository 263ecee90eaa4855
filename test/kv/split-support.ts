/** Test helpers for owned slots and splits: keys of chosen slots, and a store's visible dump. */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import type { KvStore } from '../../src/kv/store.ts';
import { keyHashSlot, SLOT_COUNT } from '../../src/resp/slot.ts';
import { b } from './harness.ts';

/** For every slot, a hash tag that hashes to it (found once by search: ~170k tries). */
const TAGS: string[] = (() => {
  const tags: string[] = new Array(SLOT_COUNT);
  let found = 0;
  for (let i = 0; found < SLOT_COUNT; i++) {
    const t = `t${i}`;
    const s = keyHashSlot(Buffer.from(t));
    if (tags[s] === undefined) {
      tags[s] = t;
      found++;
    }
  }
  return tags;
})();

/** A key of `slot` (through a hash tag), distinguished by `suffix`. */
export function keyIn(slot: number, suffix: string | number = ''): string {
  return `{${TAGS[slot]}}${suffix}`;
}

export function slotOf(key: string): number {
  return keyHashSlot(b(key));
}

/** Every visible key with value, expiry and version at `now`, sorted. */
export function dump(store: KvStore, now = 0): string[] {
  return store
    .keys(b('*'), now)
    .map((k) => `${k.toString('latin1')}=${store.get(k, now)!.toString('latin1')}@${store.expireTime(k, now)}#${store.version(k, now)}`)
    .sort();
}

/** Recomputes an image's trailing crc32 after a test edits it. */
export function fixCrc(image: Buffer): Buffer {
  image.writeUInt32LE(crc32(image.subarray(0, image.length - 4)), image.length - 4);
  return image;
}
