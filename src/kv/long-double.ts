/**
 * INCRBYFLOAT arithmetic, bit-exact with Redis on x86_64.
 *
 * Redis parses both operands with strtold into an x87 80-bit long double (64-bit significand),
 * adds them, and stores `printf("%.17Lf")` with trailing zeros removed. Doing the same in
 * doubles gives different text (Redis: 10.5 + 0.1 = "10.6", 128 + 0.1 = "128.10000000000000001";
 * doubles: "10.59999999999999964", "128.09999999999999432"), so this module emulates the
 * extended format with BigInt: correctly rounded parsing (round-half-even, subnormals,
 * overflow), correctly rounded addition, and exact decimal printing. Pure integer math, so
 * every replica computes the same bytes.
 */

/** A finite value (-1)^neg * mant * 2^exp, or an infinity. */
export interface LongDouble {
  neg: boolean;
  mant: bigint;
  exp: number;
  inf: boolean;
}

const PRECISION = 64;
/** Exponent of the least significant bit of subnormals: min normal is 2^63 * 2^EMIN = 2^-16382. */
const EMIN = -16445;
/** Every finite value is below 2^EMAX_BITS. */
const EMAX_BITS = 16384;
/** Redis's MAX_LONG_DOUBLE_CHARS: longer inputs are rejected. */
const MAX_CHARS = 5 * 1024;
const TEN17 = 10n ** 17n;

const DECIMAL = /^([+-]?)(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?$/;
const HEX = /^([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?$/;
const INFINITY = /^([+-]?)(?:inf|infinity)$/i;

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function zero(neg: boolean): LongDouble {
  return { neg, mant: 0n, exp: 0, inf: false };
}

function infinity(neg: boolean): LongDouble {
  return { neg, mant: 0n, exp: 0, inf: true };
}

/**
 * Rounds n * 2^e (plus a nonzero tail below the last bit of n when `sticky`) to the extended
 * format, half to even. Callers pass at least two bits beyond the 64 kept, or an exact value.
 */
function round(neg: boolean, n: bigint, e: number, sticky: boolean): LongDouble {
  const shift = Math.max(bitLength(n) - PRECISION, EMIN - e);
  if (shift > 0) {
    const s = BigInt(shift);
    const kept = n >> s;
    const dropped = n - (kept << s);
    const half = 1n << (s - 1n);
    const up = dropped > half || (dropped === half && (sticky || (kept & 1n) === 1n));
    n = up ? kept + 1n : kept;
    e += shift;
  }
  if (n === 0n) return zero(neg);
  if (bitLength(n) + e > EMAX_BITS) return infinity(neg);
  return { neg, mant: n, exp: e, inf: false };
}

/** Correctly rounded num / den (both positive). */
function roundQuotient(neg: boolean, num: bigint, den: bigint): LongDouble {
  // Enough quotient bits for 64 kept + guard bits; the subnormal clamp in round() then only
  // shifts further right, which keeps the rounding exact.
  const k = Math.max(PRECISION + 3 + bitLength(den) - bitLength(num), 0);
  const scaled = num << BigInt(k);
  const q = scaled / den;
  return round(neg, q, -k, q * den !== scaled);
}

/**
 * Parses a value the way Redis's string2ld does (strtold plus Redis's checks): no leading
 * whitespace, the whole string consumed (so a NUL byte anywhere is invalid), decimal or hex
 * floats, "inf"/"infinity" accepted; NaN, overflow, and nonzero values that underflow to zero
 * are rejected. Returns null when Redis would answer "value is not a valid float".
 */
export function parseLongDouble(s: string): LongDouble | null {
  if (s.length === 0 || s.length >= MAX_CHARS) return null;
  let m = DECIMAL.exec(s);
  if (m) {
    const intDigits = m[2] ?? '';
    const fracDigits = m[3] ?? m[4] ?? '';
    return decimalValue(m[1] === '-', intDigits + fracDigits, fracDigits.length, m[5]);
  }
  m = HEX.exec(s);
  if (m) {
    const intDigits = m[2] ?? '';
    const fracDigits = m[3] ?? m[4] ?? '';
    const digits = BigInt(`0x${intDigits + fracDigits}`);
    const binExp = clampExponent(m[5]) - 4 * fracDigits.length;
    return checkRange(round(m[1] === '-', digits, binExp, false), digits === 0n);
  }
  m = INFINITY.exec(s);
  if (m) return infinity(m[1] === '-');
  return null;
}

function clampExponent(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  // Far beyond any finite or subnormal value; keeps the BigInt work bounded.
  return Math.max(-1e6, Math.min(1e6, n));
}

function decimalValue(neg: boolean, digitText: string, fracLen: number, expText: string | undefined): LongDouble | null {
  const digits = BigInt(digitText);
  if (digits === 0n) return zero(neg);
  const significant = digitText.replace(/^0+/, '').length;
  const exp10 = clampExponent(expText) - fracLen;
  // 10^4933 overflows and 10^-4952 underflows to zero whatever the digits: skip the BigInts.
  if (exp10 + significant > 4934) return null;
  if (exp10 + significant < -4952) return null;
  const v = exp10 >= 0 ? round(neg, digits * 10n ** BigInt(exp10), 0, false) : roundQuotient(neg, digits, 10n ** BigInt(-exp10));
  return checkRange(v, false);
}

/** strtold's ERANGE cases that Redis rejects: overflow to infinity, nonzero underflow to zero. */
function checkRange(v: LongDouble, exactZero: boolean): LongDouble | null {
  if (v.inf) return null;
  if (v.mant === 0n && !exactZero) return null;
  return v;
}

/** a + b correctly rounded; null when the result is NaN (inf - inf). */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.inf || b.inf) {
    if (a.inf && b.inf && a.neg !== b.neg) return null;
    return infinity(a.inf ? a.neg : b.neg);
  }
  const e = Math.min(a.exp, b.exp);
  const x = a.mant << BigInt(a.exp - e);
  const y = b.mant << BigInt(b.exp - e);
  const sum = (a.neg ? -x : x) + (b.neg ? -y : y);
  // Round-to-nearest: an exact zero sum is +0 unless both operands are -0.
  if (sum === 0n) return zero(a.neg && b.neg && x === 0n && y === 0n);
  return round(sum < 0n, sum < 0n ? -sum : sum, e, false);
}

/**
 * Redis's "human" long double text: `%.17Lf` (exactly rounded, half to even), trailing zeros
 * and a bare point removed, and "-0" written as "0". Never uses an exponent.
 */
export function formatLongDouble(v: LongDouble): string {
  if (v.inf) return v.neg ? '-inf' : 'inf';
  let q: bigint;
  if (v.exp >= 0) {
    q = (v.mant << BigInt(v.exp)) * TEN17;
  } else {
    const num = v.mant * TEN17;
    const s = BigInt(-v.exp);
    q = num >> s;
    const rem = num - (q << s);
    const half = 1n << (s - 1n);
    if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  }
  const digits = q.toString().padStart(18, '0');
  let text = `${digits.slice(0, -17)}.${digits.slice(-17)}`.replace(/0+$/, '');
  if (text.endsWith('.')) text = text.slice(0, -1);
  if (v.neg && text !== '0') text = `-${text}`;
  return text;
}
