import type { Entry } from './types.ts';

/**
 * Approximate encoded size of an entry. The fixed part stands for term, index and type, so that
 * a stream of empty no-ops is still bounded by maxSizePerMsg.
 */
export const ENTRY_OVERHEAD = 16;

export function entrySize(e: Entry): number {
  return ENTRY_OVERHEAD + e.data.byteLength;
}

export function entriesSize(ents: readonly Entry[]): number {
  let total = 0;
  for (const e of ents) total += entrySize(e);
  return total;
}

/** The longest prefix of `ents` within `maxBytes`, but never fewer than one entry. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let size = entrySize(ents[0]);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}
