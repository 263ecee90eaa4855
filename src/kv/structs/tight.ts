/**
 * Exact-size array edits for the compact encodings (listpack, intset). A pushed or spliced JS
 * array keeps spare capacity (V8 grows 1 -> 17 slots), which for a collection of a few members
 * costs more than the members; a fresh array of exactly n slots does not. Each edit copies the
 * array, O(n) with n <= 512, the same trade a Redis listpack makes (it reallocates on insert).
 */

/** A copy of a with v inserted at i. */
export function withInserted<T>(a: T[], i: number, v: T): T[] {
  const out = new Array<T>(a.length + 1);
  for (let k = 0; k < i; k++) out[k] = a[k];
  out[i] = v;
  for (let k = i; k < a.length; k++) out[k + 1] = a[k];
  return out;
}

/** A copy of a without element i. */
export function withRemoved<T>(a: T[], i: number): T[] {
  const out = new Array<T>(a.length - 1);
  for (let k = 0; k < i; k++) out[k] = a[k];
  for (let k = i + 1; k < a.length; k++) out[k - 1] = a[k];
  return out;
}

/**
 * The same for scores. A separate allocation site: V8 remembers per `new Array` site the
 * element kind its arrays ended up with, and strings stored through the generic one would make
 * every array it allocates box its doubles (24 bytes a score instead of 8).
 */
export function withInsertedScore(a: number[], i: number, v: number): number[] {
  const out = new Array<number>(a.length + 1);
  for (let k = 0; k < i; k++) out[k] = a[k];
  out[i] = v;
  for (let k = i; k < a.length; k++) out[k + 1] = a[k];
  return out;
}

export function withRemovedScore(a: number[], i: number): number[] {
  const out = new Array<number>(a.length - 1);
  for (let k = 0; k < i; k++) out[k] = a[k];
  for (let k = i + 1; k < a.length; k++) out[k - 1] = a[k];
  return out;
}
