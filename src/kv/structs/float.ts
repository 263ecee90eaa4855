/**
 * Scores as Redis 7.0 prints them: `addReplyDouble` (src/networking.c) writes `inf`/`-inf` for
 * infinities and C's `printf("%.17g")` for everything else, in RESP2 and RESP3 alike (7.2 moved
 * to the shortest round-trip text; 7.0 did not). ZSCORE, ZMSCORE, ZINCRBY, ZADD INCR and every
 * WITHSCORES reply go through it.
 *
 * `%.17g` is 17 significant digits correctly rounded from the double's exact binary value, ties
 * to even (glibc), fixed notation when the decimal exponent X is in [-4, 17), `d.ddde±XX`
 * otherwise, trailing zeros and a bare point removed. JS's toExponential gives the same digits
 * except on exact ties, which it rounds up: those (rare: the exact value must have exactly 18
 * significant digits) are redone here with BigInt. Pure, so every replica prints the same bytes.
 *
 * HINCRBYFLOAT is not this: Redis 7.0 computes it in long double and prints it with ld2string
 * (LD_STR_HUMAN), exactly as INCRBYFLOAT, so it reuses src/kv/long-double.ts.
 */

const DIGITS = 17;

/** `%.17g` of a finite double, or `inf`/`-inf`; NaN prints `nan` (never stored in a zset). */
export function formatScore(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  if (Number.isNaN(v)) return 'nan';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  // Safe integers print all their digits in fixed notation, and String() gives exactly those
  // (above 2^53 String() gives the shortest round-trip digits, not the exact ones).
  if (Number.isSafeInteger(v)) return String(v);
  const neg = v < 0;
  let [digits, exp] = roundedDigits(Math.abs(v));
  // Strip trailing zeros of the significand (%g without '#').
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  digits = digits.slice(0, end);
  let out: string;
  if (exp >= -4 && exp < DIGITS) {
    if (exp < 0) out = `0.${'0'.repeat(-exp - 1)}${digits}`;
    else if (digits.length <= exp + 1) out = digits + '0'.repeat(exp + 1 - digits.length);
    else out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    out = `${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  return neg ? `-${out}` : out;
}

/** 17 significant digits of a positive finite x (round half even) and the decimal exponent. */
function roundedDigits(x: number): [string, number] {
  // 18 digits from V8: when the 18th is not 5, rounding at 17 cannot be a tie.
  const e18 = x.toExponential(DIGITS);
  if (e18.charCodeAt(DIGITS + 1) !== 0x35) {
    const e17 = x.toExponential(DIGITS - 1);
    const cut = e17.indexOf('e');
    return [e17[0] + e17.slice(2, cut), Number(e17.slice(cut + 1))];
  }
  return exactRounded(x);
}

/** The slow path: x's exact decimal expansion, rounded to 17 digits half to even. */
function exactRounded(x: number): [string, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2: number;
  if (biased === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = biased - 1075;
  }
  // x = mant * 2^e2 = digits * 10^-scale exactly.
  let big: bigint;
  let scale: number;
  if (e2 >= 0) {
    big = mant << BigInt(e2);
    scale = 0;
  } else {
    big = mant * 5n ** BigInt(-e2);
    scale = -e2;
  }
  let s = big.toString();
  const exp = s.length - 1 - scale;
  if (s.length > DIGITS) {
    const keep = BigInt(s.slice(0, DIGITS));
    const rest = s.slice(DIGITS);
    const half = `5${'0'.repeat(rest.length - 1)}`;
    let up: boolean;
    if (rest > half) up = true;
    else if (rest < half) up = false;
    else up = (keep & 1n) === 1n;
    let kept = up ? keep + 1n : keep;
    let e = exp;
    if (kept.toString().length > DIGITS) {
      kept /= 10n;
      e++;
    }
    return [kept.toString(), e];
  }
  s = s + '0'.repeat(DIGITS - s.length);
  return [s, exp];
}
