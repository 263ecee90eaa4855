/**
 * Format-blind byte mutators shared by every target: bit flips, interesting bytes, cuts,
 * insertions, repeats and number swaps. A target's own mutators (resp.ts, http.ts, peer.ts)
 * know the framing; these find what framing-aware ones would not think of.
 */
import type { Rng } from './rng.ts';

/** Numbers that sit on the edges parsers get wrong: signs, 32/53/64-bit limits, junk. */
export const INTERESTING_NUMBERS: readonly string[] = [
  '0',
  '1',
  '-1',
  '-2',
  '2',
  '255',
  '256',
  '65535',
  '65536',
  '1024',
  '4096',
  '2147483647',
  '2147483648',
  '-2147483648',
  '4294967295',
  '4294967296',
  '9007199254740991',
  '9007199254740993',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '18446744073709551616',
  '99999999999999999999999',
  '1e10',
  '1.5',
  '-0',
  '+1',
  ' 1',
  '1 ',
  '0x10',
  '00000001',
  '',
  'nan',
  'inf',
  '-inf',
];

/** Bytes that end, start or separate tokens in the formats under test. */
const INTERESTING_BYTES = [0x00, 0xff, 0x0d, 0x0a, 0x24, 0x2a, 0x3a, 0x2d, 0x2b, 0x20, 0x22, 0x27, 0x7b, 0x7d, 0x5c, 0x25, 0x2f, 0x80, 0x7f];

export type Mutator = (rng: Rng, b: Buffer) => Buffer;

function at(rng: Rng, b: Buffer): number {
  return b.length === 0 ? 0 : rng.int(0, b.length - 1);
}

export const BYTE_MUTATORS: Readonly<Record<string, Mutator>> = {
  bitFlip(rng, b) {
    const out = Buffer.from(b);
    if (out.length === 0) return out;
    for (let n = rng.int(1, 8); n > 0; n--) out[at(rng, out)] ^= 1 << rng.int(0, 7);
    return out;
  },
  interestingByte(rng, b) {
    const out = Buffer.from(b);
    if (out.length === 0) return Buffer.from([rng.pick(INTERESTING_BYTES)]);
    for (let n = rng.int(1, 4); n > 0; n--) out[at(rng, out)] = rng.pick(INTERESTING_BYTES);
    return out;
  },
  truncate(rng, b) {
    return b.subarray(0, at(rng, b));
  },
  cutRange(rng, b) {
    const from = at(rng, b);
    return Buffer.concat([b.subarray(0, from), b.subarray(Math.min(b.length, from + 1 + rng.skewed(64)))]);
  },
  insertRandom(rng, b) {
    const pos = at(rng, b);
    return Buffer.concat([b.subarray(0, pos), rng.bytes(1 + rng.skewed(4096)), b.subarray(pos)]);
  },
  repeatRange(rng, b) {
    const from = at(rng, b);
    const piece = b.subarray(from, Math.min(b.length, from + 1 + rng.skewed(256)));
    const copies: Buffer[] = new Array(1 + rng.skewed(64)).fill(piece);
    return Buffer.concat([b.subarray(0, from), ...copies, b.subarray(from)]);
  },
  swapNumber(rng, b) {
    // Any run of ASCII digits (a length, a count, a port, an integer argument).
    const runs: [number, number][] = [];
    for (let i = 0; i < b.length; i++) {
      if (b[i] < 0x30 || b[i] > 0x39) continue;
      let j = i;
      while (j < b.length && b[j] >= 0x30 && b[j] <= 0x39) j++;
      runs.push([i, j]);
      i = j;
    }
    if (runs.length === 0) return BYTE_MUTATORS.interestingByte(rng, b);
    const [s, e] = rng.pick(runs);
    return Buffer.concat([b.subarray(0, s), Buffer.from(rng.pick(INTERESTING_NUMBERS)), b.subarray(e)]);
  },
  randomBytes(rng, b) {
    return rng.bytes(rng.chance(0.5) ? b.length : 1 + rng.skewed(8192));
  },
};

const BYTE_MUTATOR_LIST = Object.values(BYTE_MUTATORS);

/** One to three format-blind mutations of `b` (never in place). */
export function mutateBytes(rng: Rng, b: Buffer): Buffer {
  let out = b;
  for (let n = rng.int(1, 3); n > 0; n--) out = rng.pick(BYTE_MUTATOR_LIST)(rng, out);
  return out;
}

/** Cuts `bytes` into 1-8 writes at random points, so frames cross write (and packet) boundaries. */
export function splitWrites(rng: Rng, bytes: Buffer): Buffer[] {
  if (bytes.length < 2 || rng.chance(0.5)) return [bytes];
  const cuts = new Set<number>();
  for (let n = rng.int(1, 7); n > 0; n--) cuts.add(rng.int(1, bytes.length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}
