/** KeyMap (sharded open addressing) against a plain Map, through growth, deletes and shrinking. */
import { describe, expect, it } from 'vitest';
import { Item } from '../../src/kv/item.ts';
import { KeyMap } from '../../src/kv/key-map.ts';
import { rng } from './harness.ts';

function check(map: KeyMap, ref: Map<string, Item>, probes: string[]): void {
  expect(map.size).toBe(ref.size);
  for (const k of probes) {
    expect(map.get(k)).toBe(ref.get(k));
    expect(map.has(k)).toBe(ref.has(k));
  }
  const all = [...map.values()];
  expect(all.length).toBe(ref.size);
  expect(new Set(all)).toEqual(new Set(ref.values()));
}

describe('KeyMap', () => {
  it('agrees with a Map under random adds and deletes (long probe runs, wrap-around, resizes)', () => {
    const r = rng(7);
    const map = new KeyMap();
    const ref = new Map<string, Item>();
    // 3000 distinct keys over 256 shards: every shard grows past its first sizes and collides.
    const keys = Array.from({ length: 3000 }, (_, i) => `key:${i}`);
    let seq = 1;
    for (let step = 0; step < 40_000; step++) {
      const k = keys[Math.floor(r() * keys.length)];
      // Phases: mostly adds, then mostly deletes (tables shrink), then mixed.
      const addBias = step < 15_000 ? 0.8 : step < 30_000 ? 0.15 : 0.5;
      if (r() < addBias) {
        if (!ref.has(k)) {
          const item = new Item(k, 'v', 0, step, seq++);
          map.add(item);
          ref.set(k, item);
        }
      } else {
        map.delete(k);
        ref.delete(k);
      }
      if (step % 2500 === 0) check(map, ref, keys);
    }
    check(map, ref, keys);
  });

  it('finds binary keys, the empty key and keys differing only in their last byte', () => {
    const map = new KeyMap();
    const keys = ['', '\x00', '\x00\x00', '\xff', 'a', 'b', 'k\x00\xff\x80', 'k\x00\xff\x81'];
    for (const [i, k] of keys.entries()) map.add(new Item(k, String(i), 0, 1, i + 1));
    for (const [i, k] of keys.entries()) expect(map.get(k)?.value).toBe(String(i));
    expect(map.get('\x00\x00\x00')).toBeUndefined();
    map.delete('\x00');
    expect(map.get('\x00')).toBeUndefined();
    expect(map.get('\x00\x00')?.value).toBe('2');
    expect(map.size).toBe(keys.length - 1);
  });

  it('deleting an absent key changes nothing', () => {
    const map = new KeyMap();
    map.add(new Item('a', '1', 0, 1, 1));
    map.delete('b');
    expect(map.size).toBe(1);
    expect(map.get('a')?.value).toBe('1');
  });
});
