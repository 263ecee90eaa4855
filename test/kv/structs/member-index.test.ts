/**
 * MemberIndex (a large sorted set's member -> position map): it answers as one Map would across
 * the spread into shards at 2^13 entries, through deletes, re-adds and clones. Why it exists
 * (no 2^20-entry rehash in one slice) is proven by test/kv/snapshot-zset.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MemberIndex } from '../../../src/kv/structs/member-index.ts';

describe('MemberIndex', () => {
  it('answers as a Map across the spread into shards, deletes, re-adds and clones', () => {
    const idx = new MemberIndex();
    const ref = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const m = `m${i}`;
      idx.set(m, i);
      ref.set(m, i);
      if (i % 7 === 0) {
        idx.delete(`m${i >> 1}`);
        ref.delete(`m${i >> 1}`);
      }
    }
    idx.set('m5', -1);
    ref.set('m5', -1);
    expect(idx.delete('absent')).toBe(false);
    const copy = idx.clone();
    copy.delete('m6');
    expect(idx.size).toBe(ref.size);
    expect(copy.size).toBe(ref.size - (ref.has('m6') ? 1 : 0));
    for (let i = 0; i < 20_000; i++) expect(idx.get(`m${i}`)).toBe(ref.get(`m${i}`));
    expect(copy.get('m6')).toBeUndefined();
  });
});
