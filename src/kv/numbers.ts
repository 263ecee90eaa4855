/** Redis's integer rules, on binary strings (one char per byte). */

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/**
 * Parses a signed 64-bit integer exactly as Redis's string2ll does: optional '-', no '+', no
 * spaces, no leading zeros (except "0" itself), at most 20 chars, within int64. Returns a number
 * when the value is a safe integer, a bigint otherwise, and null when the string is not valid.
 */
export function parseInt64(s: string): number | bigint | null {
  const len = s.length;
  if (len === 0 || len > 20) return null;
  if (len === 1 && s.charCodeAt(0) === 0x30) return 0;
  let i = 0;
  const negative = s.charCodeAt(0) === 0x2d;
  if (negative) {
    i = 1;
    if (len === 1) return null;
  }
  const first = s.charCodeAt(i);
  if (first < 0x31 || first > 0x39) return null;
  for (let j = i + 1; j < len; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return null;
  }
  // 15 digits always fit in a double exactly; longer ones go through BigInt for the range check.
  if (len - i <= 15) return Number(s);
  const big = BigInt(s);
  if (big < INT64_MIN || big > INT64_MAX) return null;
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

/**
 * a + b, or null when the sum leaves int64 (Redis: "increment or decrement would overflow").
 * Returns a number while the result is a safe integer.
 */
export function addInt64(a: number | bigint, b: bigint): number | bigint | null {
  if (typeof a === 'number' && b >= -(2n ** 52n) && b <= 2n ** 52n) {
    const sum = a + Number(b);
    if (Number.isSafeInteger(sum)) return sum;
  }
  const sum = BigInt(a) + b;
  if (sum < INT64_MIN || sum > INT64_MAX) return null;
  return Number.isSafeInteger(Number(sum)) ? Number(sum) : sum;
}
