/**
 * ItemMap (a snapshot's preserved originals, spread over Maps by seq): it answers as one Map
 * would through sets, overwrites, deletes and a clear, for items of any seq. Why it exists (no
 * rehash of half a million entries in one cleanup step) is measured in src/kv/item-map.ts and
 * docs/architecture.md, and proven by test/kv/split-1m.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Item } from '../../src/kv/item.ts';
import { ItemMap } from '../../src/kv/item-map.ts';
import { rng } from './harness.ts';

describe('ItemMap', () => {
  it('answers as a Map through sets, overwrites, deletes and a clear', () => {
    const r = rng(11);
    const items = Array.from({ length: 5000 }, (_, i) => new Item(`k${i}`, 'v', 0, 1, i * 37 + (i % 3)));
    const map = new ItemMap<number>();
    const ref = new Map<Item, number>();
    for (let n = 0; n < 40_000; n++) {
      const item = items[Math.floor(r() * items.length)]!;
      const x = r();
      if (x < 0.6) {
        map.set(item, n);
        ref.set(item, n);
      } else expect(map.delete(item)).toBe(ref.delete(item));
    }
    for (const item of items) {
      expect(map.has(item)).toBe(ref.has(item));
      expect(map.get(item)).toBe(ref.get(item));
    }
    // Two items with one seq are still two entries.
    const twin = new Item('k0', 'v', 0, 1, items[0]!.seq);
    map.set(twin, -1);
    expect(map.get(twin)).toBe(-1);
    expect(map.get(items[0]!)).toBe(ref.get(items[0]!));
    map.clear();
    for (const item of [...items, twin]) expect(map.has(item)).toBe(false);
  });
});
