/**
 * Redis Cluster key slots: CRC16-XMODEM (polynomial 0x1021, initial value 0, no reflection) of
 * the key, or of its `{hash tag}`, modulo 16384. Clients compute the same number to route, so
 * `-MOVED <slot>` must use exactly this function. It lives in kv, the lowest layer, because a
 * group's state machine owns slots (owned.ts) and judges every key by this function; the front
 * end re-exports it (src/resp/slot.ts).
 */
import { Buffer } from 'node:buffer';

export const SLOT_COUNT = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    t[i] = crc & 0xffff;
  }
  return t;
})();

export function crc16(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ data[i]) & 0xff];
  return crc;
}

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/**
 * The slot of a key. If the key has a `{` followed later by a `}` with at least one byte
 * between them, only the bytes between the first `{` and the first `}` after it are hashed;
 * otherwise the whole key is ("foo{}{bar}" hashes whole, "foo{{bar}}" hashes "{bar").
 */
export function keyHashSlot(key: Uint8Array | string): number {
  const k = typeof key === 'string' ? Buffer.from(key) : key;
  const s = k.indexOf(OPEN);
  if (s >= 0) {
    const e = k.indexOf(CLOSE, s + 1);
    if (e > s + 1) return crc16(k, s + 1, e) & (SLOT_COUNT - 1);
  }
  return crc16(k) & (SLOT_COUNT - 1);
}

/**
 * keyHashSlot of a key held as a binary string (one char per byte, as the keyspace holds them):
 * no Buffer is made, so the state machine can judge a key on the apply path.
 */
export function binarySlot(key: string): number {
  let start = 0;
  let end = key.length;
  const s = key.indexOf('{');
  if (s >= 0) {
    const e = key.indexOf('}', s + 1);
    if (e > s + 1) {
      start = s + 1;
      end = e;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ key.charCodeAt(i)) & 0xff];
  return crc & (SLOT_COUNT - 1);
}
