/**
 * PositionIndex (a large hash's or set's string -> position table): it answers as a Map would
 * through growth, swap-with-last deletes (backward shifts across the table's wrap), clones, and
 * keys crafted to collide (where it hands over to a Map).
 */
import { describe, expect, it } from 'vitest';
import { hashOf, PositionIndex } from '../../../src/kv/structs/position-index.ts';

/** An owner as Hash and MemberSet are: dense positions, deletes move the last key into the hole. */
class Owner {
  keys: string[] = [];
  index = new PositionIndex(this.keys);
  add(k: string): void {
    if (this.index.find(this.keys, k) >= 0) return;
    this.keys.push(k);
    this.index.add(this.keys, this.keys.length - 1);
  }
  delete(k: string): boolean {
    const i = this.index.find(this.keys, k);
    if (i < 0) return false;
    const last = this.keys.length - 1;
    this.index.remove(this.keys, i, last);
    this.keys[i] = this.keys[last];
    this.keys.pop();
    return true;
  }
  /** Every key at its position, and every probe present exactly when live: the wrong answers. */
  wrong(live: Set<string>, probes: Iterable<string>): string[] {
    const out: string[] = [];
    if (this.keys.length !== live.size) out.push(`size ${this.keys.length} != ${live.size}`);
    for (let i = 0; i < this.keys.length; i++) if (this.index.find(this.keys, this.keys[i]) !== i) out.push(`${this.keys[i]} not at ${i}`);
    for (const k of probes) if (this.index.find(this.keys, k) >= 0 !== live.has(k)) out.push(`${k} ${live.has(k) ? 'lost' : 'found'}`);
    return out;
  }
}

describe('PositionIndex', () => {
  it('finds every key at its position through growth, deletes, re-adds and clones', () => {
    const o = new Owner();
    const live = new Set<string>();
    const all: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      const k = `m${i}`;
      all.push(k);
      o.add(k);
      live.add(k);
      if (i % 3 === 0) {
        const d = `m${(i * 7919) % (i + 1)}`;
        expect(o.delete(d)).toBe(live.delete(d));
      }
    }
    for (let i = 0; i < 50_000; i += 5) {
      o.add(all[i]);
      live.add(all[i]);
    }
    expect(o.delete('absent')).toBe(false);
    expect(o.wrong(live, [...all, 'absent', ''])).toEqual([]);
    const copy = new Owner();
    copy.keys = o.keys.slice();
    copy.index = o.index.clone();
    copy.delete(o.keys[0]);
    expect(o.wrong(live, all)).toEqual([]);
    live.delete(o.keys[0]);
    expect(copy.wrong(live, all)).toEqual([]);
  });

  it('indexes an existing array (conversion from the compact encoding)', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i}`);
    const idx = new PositionIndex(keys);
    const o = new Owner();
    o.keys = keys;
    o.index = idx;
    expect(o.wrong(new Set(keys), ['k3000', 'k-1'])).toEqual([]);
  });

  it('stays right, and hands over to a Map, when keys are crafted to share one home slot', () => {
    // Keys whose hashes agree in their low 12 bits: one home slot in any table up to 4096 slots
    // (1100 keys need 2048), so the run outgrows the 1024-slot probe limit.
    const colliding: string[] = [];
    for (let i = 0; colliding.length < 1100; i++) {
      if ((hashOf(`c${i}`) & 0xfff) === 0x123) colliding.push(`c${i}`);
    }
    const o = new Owner();
    const live = new Set<string>();
    for (const k of colliding) {
      o.add(k);
      live.add(k);
    }
    expect(Reflect.get(o.index, 'map')).toBeInstanceOf(Map);
    for (const k of colliding.slice(0, 400)) {
      o.delete(k);
      live.delete(k);
    }
    expect(o.wrong(live, colliding)).toEqual([]);
  });
});
