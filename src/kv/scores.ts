/**
 * Sorted-set arguments read exactly as Redis 7.0 reads them (t_zset.c, util.c), shared by the
 * front end (which refuses a bad one before proposing) and apply (which reads the same bytes
 * again from the entry, so nothing in the log can make it throw):
 *
 * - a score (ZADD, ZINCRBY): string2d, i.e. glibc strtod over the whole argument, no leading
 *   space, no NaN, no overflow to infinity, no nonzero underflow to zero; "inf", "-inf",
 *   "infinity" and hex floats ("0x1p3") are scores. Else "ERR value is not a valid float".
 * - a score bound (ZCOUNT, ZRANGEBYSCORE ...): zslParseRange, `(` for exclusive, then strtod
 *   up to the C string's end (the first NUL): leading spaces are fine, overflow is an infinity,
 *   an empty text is 0. Else "ERR min or max is not a float".
 * - a lex bound (ZRANGEBYLEX ...): zslParseLexRangeItem, `[x` `(x` `-` `+`. Else
 *   "ERR min or max not valid string range item".
 *
 * All of it is pure arithmetic on the text (decimal through V8's correctly rounded Number(),
 * hex floats rounded here half to even with BigInt), so every replica reads the same double.
 */
import type { LexBound, ScoreBound } from './structs/zset-bounds.ts';

export const ZSET_ERR = {
  notFloat: 'ERR value is not a valid float',
  boundNotFloat: 'ERR min or max is not a float',
  lexBound: 'ERR min or max not valid string range item',
  nan: 'ERR resulting score is not a number (NaN)',
  nxAndXx: 'ERR XX and NX options at the same time are not compatible',
  gtLtNx: 'ERR GT, LT, and/or NX options at the same time are not compatible',
  incrPairs: 'ERR INCR option supports a single increment-element pair',
} as const;

/** What strtod read: the value, where it stopped, and whether it set ERANGE to an extreme. */
interface Strtod {
  value: number;
  end: number;
  /** Overflow to +-HUGE_VAL, or a nonzero value that underflowed to zero. */
  erange: boolean;
}

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** glibc strtod over the latin1 string `s` from `from`; `end` = from when nothing was read. */
function strtod(s: string, from: number): Strtod {
  let i = from;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  const sign = neg ? -1 : 1;
  const rest = s.slice(i, i + 8).toLowerCase();
  if (rest.startsWith('inf')) return { value: sign * Number.POSITIVE_INFINITY, end: i + (rest === 'infinity' ? 8 : 3), erange: false };
  if (rest.startsWith('nan')) {
    let end = i + 3;
    // nan(n-char-sequence) is consumed only when the parenthesis closes.
    if (s[end] === '(') {
      let j = end + 1;
      while (j < s.length && /[0-9A-Za-z_]/.test(s[j])) j++;
      if (s[j] === ')') end = j + 1;
    }
    return { value: Number.NaN, end, erange: false };
  }
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X')) {
    const hex = hexFloat(s, i + 2, neg);
    if (hex !== null) return hex;
  }
  const start = i;
  let digits = 0;
  let nonzero = false;
  while (i < s.length && isDigit(s.charCodeAt(i))) {
    if (s[i] !== '0') nonzero = true;
    i++;
    digits++;
  }
  if (s[i] === '.') {
    i++;
    while (i < s.length && isDigit(s.charCodeAt(i))) {
      if (s[i] !== '0') nonzero = true;
      i++;
      digits++;
    }
  }
  if (digits === 0) return { value: 0, end: from, erange: false };
  if (s[i] === 'e' || s[i] === 'E') {
    let j = i + 1;
    if (s[j] === '+' || s[j] === '-') j++;
    if (j < s.length && isDigit(s.charCodeAt(j))) {
      while (j < s.length && isDigit(s.charCodeAt(j))) j++;
      i = j;
    }
  }
  const value = Number(s.slice(start, i));
  const erange = !Number.isFinite(value) || (value === 0 && nonzero);
  return { value: neg ? -value : value, end: i, erange };
}

/** A hex float after "0x" (digits, optional point, optional p exponent), or null for none. */
function hexFloat(s: string, from: number, neg: boolean): Strtod | null {
  let i = from;
  let text = '';
  let frac = 0;
  while (i < s.length && isHex(s.charCodeAt(i))) text += s[i++];
  if (s[i] === '.') {
    i++;
    while (i < s.length && isHex(s.charCodeAt(i))) {
      text += s[i++];
      frac++;
    }
  }
  // "0x" with no hex digit reads as the "0" alone.
  if (text.length === 0) return null;
  let exp = 0;
  if (s[i] === 'p' || s[i] === 'P') {
    let j = i + 1;
    let eneg = false;
    if (s[j] === '+' || s[j] === '-') eneg = s[j++] === '-';
    if (j < s.length && isDigit(s.charCodeAt(j))) {
      let e = 0;
      while (j < s.length && isDigit(s.charCodeAt(j))) e = Math.min(1e7, e * 10 + (s.charCodeAt(j++) - 0x30));
      exp = eneg ? -e : e;
      i = j;
    }
  }
  const mant = BigInt(`0x${text}`);
  const v = roundBinary(mant, exp - 4 * frac);
  const erange = !Number.isFinite(v) || (v === 0 && mant !== 0n);
  return { value: neg ? -v : v, end: i, erange };
}

/** mant * 2^e correctly rounded (half to even) to a double, subnormals and overflow included. */
function roundBinary(mant: bigint, e: number): number {
  if (mant === 0n) return 0;
  const bits = mant.toString(2).length;
  // The double's last bit: 53 bits of precision, never below 2^-1074.
  const shift = Math.max(bits - 53, -1074 - e);
  if (shift > 0) {
    const sh = BigInt(shift);
    const kept = mant >> sh;
    const dropped = mant - (kept << sh);
    const half = 1n << (sh - 1n);
    mant = dropped > half || (dropped === half && (kept & 1n) === 1n) ? kept + 1n : kept;
    e += shift;
  }
  if (mant === 0n) return 0;
  if (mant.toString(2).length + e > 1024) return Number.POSITIVE_INFINITY;
  // mant < 2^54 is exact as a Number; scale by powers of two in exact steps.
  let v = Number(mant);
  while (e > 0) {
    const k = Math.min(e, 1000);
    v *= 2 ** k;
    e -= k;
  }
  while (e < 0) {
    const k = Math.min(-e, 1000);
    v /= 2 ** k;
    e += k;
  }
  return v;
}

/** string2d: a ZADD/ZINCRBY score, or null ("ERR value is not a valid float"). */
export function parseScore(s: string): number | null {
  if (s.length === 0 || isSpace(s.charCodeAt(0))) return null;
  const r = strtod(s, 0);
  if (r.end !== s.length || r.erange || Number.isNaN(r.value)) return null;
  return r.value;
}

/** The argument as C sees it: up to its first NUL. */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** zslParseRange's half: a score bound, or null ("ERR min or max is not a float"). */
export function parseScoreBound(arg: string): ScoreBound | null {
  const s = cString(arg);
  const exclusive = s[0] === '(';
  const r = strtod(s, exclusive ? 1 : 0);
  if (r.end !== s.length || Number.isNaN(r.value)) return null;
  return { score: r.value, exclusive };
}

/** zslParseLexRangeItem: a lex bound, or null ("ERR min or max not valid string range item"). */
export function parseLexBound(s: string): LexBound | null {
  switch (s[0]) {
    case '+':
    case '-':
      // Compared as a C string: "+" followed by a NUL is still "+".
      return s.length === 1 || s[1] === '\0' ? (s[0] as '+' | '-') : null;
    case '(':
    case '[':
      return { member: s.slice(1), exclusive: s[0] === '(' };
    default:
      return null;
  }
}
