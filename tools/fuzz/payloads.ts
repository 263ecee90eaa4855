/**
 * RESTORE's payloads for the RESP target (resp.ts): real DUMP payloads of values of every type
 * and encoding (built with the store's own encoder, src/kv/dump.ts), then corrupted: byte
 * mutations (the checksum then fails), the same with the checksum recomputed (so the decoder's
 * structural checks are what meets them: counts, lengths, types, encodings, duplicates), a
 * Redis RDB payload, or left intact. A random string would only ever test the checksum.
 */
import { crc32 } from 'node:zlib';
import { dumpPayload } from '../../src/kv/dump.ts';
import { Deque } from '../../src/kv/structs/deque.ts';
import { Hash } from '../../src/kv/structs/hash.ts';
import { MemberSet } from '../../src/kv/structs/set.ts';
import { SortedSet } from '../../src/kv/structs/zset.ts';
import type { Value } from '../../src/kv/types.ts';
import { mutateBytes } from './mutate.ts';
import type { Rng } from './rng.ts';

/** Redis 7.0's DUMP of `SET s hello`: an RDB string, RDB version 10, CRC64. */
export const REDIS_PAYLOAD = Buffer.from('000568656c6c6f0a006372df766534200a', 'hex');

/** A value of some type: small (compact encodings) or past their limits (hashtables). */
function value(rng: Rng): Value {
  const n = 1 + rng.skewed(rng.chance(0.2) ? 1200 : 40);
  const item = (i: number) => (rng.chance(0.5) ? String(i * (rng.chance(0.5) ? 1 : -7)) : rng.bytes(rng.skewed(80)).toString('latin1'));
  switch (rng.int(0, 4)) {
    case 0:
      return rng.bytes(rng.skewed(4096)).toString('latin1');
    case 1: {
      const h = new Hash();
      for (let i = 0; i < n; i++) h.set(`f${i}`, item(i));
      return h;
    }
    case 2: {
      const l = new Deque();
      for (let i = 0; i < n; i++) {
        if (rng.chance(0.5)) l.pushBack(item(i));
        else l.pushFront(item(i));
      }
      return l;
    }
    case 3: {
      const z = new SortedSet();
      for (let i = 0; i < n; i++) z.set(item(i), rng.pick([0, 1.5, -2, 1e300, -Infinity, Infinity, i]));
      return z;
    }
    default: {
      const s = new MemberSet();
      for (let i = 0; i < n; i++) s.add(item(i));
      return s;
    }
  }
}

/** Recomputes the trailing CRC32, so only the structure is wrong. */
function withChecksum(p: Buffer): Buffer {
  if (p.length < 6) return p;
  p.writeUInt32LE(crc32(p.subarray(0, p.length - 4)), p.length - 4);
  return p;
}

/** One RESTORE payload. */
export function restorePayload(rng: Rng): Buffer {
  const r = rng.next();
  if (r < 0.05) return REDIS_PAYLOAD;
  const p = dumpPayload(value(rng));
  if (r < 0.2) return p;
  const mutated = mutateBytes(rng, p);
  return r < 0.5 ? mutated : withChecksum(Buffer.from(mutated));
}
