/**
 * Deque, Hash and MemberSet against naive models (a JS array, a Map, a Set) under seeded random
 * operation sequences: every reply, the iteration order where Redis defines one (a listpack
 * hash keeps insertion order, an intset is ascending), the encoding switches, deterministic
 * random picks with Redis's count rule, and `bytes` against a recomputation after every step.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src/kv/prng.ts';
import { CHUNK, DEQUE_BASE, Deque, OPEN_ENTRY, PACKED_ENTRY } from '../../../src/kv/structs/deque.ts';
import { HASH_BASE, HASHTABLE_FIELD, Hash, LISTPACK_FIELD } from '../../../src/kv/structs/hash.ts';
import { pickIndices } from '../../../src/kv/structs/random.ts';
import { HASHTABLE_MEMBER, INTSET_MEMBER, MemberSet, SET_BASE } from '../../../src/kv/structs/set.ts';
import { SortedSet } from '../../../src/kv/structs/zset.ts';
import { SplitMix32 } from '../../support/splitmix32.ts';

function value(rng: SplitMix32): string {
  // Up to 300 bytes: packed lengths of one and two varint bytes.
  return rng.chance(0.1) ? '\x80'.repeat(rng.int(0, 300)) : `v${rng.int(0, 20)}\xfe`;
}

describe('Deque against an array', () => {
  it('20000 random operations: pushes, pops, index, set, insert, remove, LREM, LTRIM', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new SplitMix32(seed);
      const d = new Deque();
      let model: string[] = [];
      let mostPacked = 0;
      for (let step = 0; step < 20000; step++) {
        const ctx = `seed ${seed} step ${step}`;
        const op = rng.int(0, 11);
        const n = model.length;
        // Bias towards growth in the first half and shrinkage after, so the ring resizes both ways.
        const grow = step % 10000 < 5000;
        if (op <= (grow ? 4 : 2) && (grow || rng.chance(0.3))) {
          const v = value(rng);
          if (rng.chance(0.5)) {
            d.pushBack(v);
            model.push(v);
          } else {
            d.pushFront(v);
            model.unshift(v);
          }
        } else if (op <= 4) {
          const back = rng.chance(0.5);
          expect(back ? d.popBack() : d.popFront(), ctx).toBe(back ? model.pop() : model.shift());
        } else if (op === 5) {
          const i = rng.int(-1, n);
          expect(d.get(i), ctx).toBe(i >= 0 ? model[i] : undefined);
          const v = value(rng);
          expect(d.indexOf(v), ctx).toBe(model.indexOf(v));
        } else if (op === 6) {
          const i = rng.int(-1, n);
          const v = value(rng);
          expect(d.set(i, v), ctx).toBe(i >= 0 && i < n);
          if (i >= 0 && i < n) model[i] = v;
        } else if (op === 7 && grow) {
          const i = rng.int(0, n);
          const v = value(rng);
          d.insert(i, v);
          model.splice(i, 0, v);
        } else if (op === 8) {
          const i = rng.int(-1, n);
          expect(d.removeAt(i), ctx).toBe(i >= 0 && i < n ? model.splice(i, 1)[0] : undefined);
        } else if (op === 9 && rng.chance(0.2)) {
          const v = value(rng);
          const count = rng.int(-3, 3);
          const limit = count === 0 ? Number.POSITIVE_INFINITY : Math.abs(count);
          const order = model.map((_, i) => i);
          if (count < 0) order.reverse();
          const drop = new Set(order.filter((i) => model[i] === v).slice(0, limit === Number.POSITIVE_INFINITY ? undefined : limit));
          expect(d.removeValue(v, count), ctx).toBe(drop.size);
          model = model.filter((_, i) => !drop.has(i));
        } else if (op === 10 && !grow && rng.chance(0.05)) {
          const start = rng.int(0, n + 1);
          const stop = rng.int(start - 2, n + 1);
          d.trim(start, stop);
          model = model.slice(start, Math.max(start, stop + 1));
        } else {
          const start = rng.int(0, n + 1);
          const stop = rng.int(start - 2, n + 1);
          expect(d.range(start, stop), ctx).toEqual(model.slice(start, Math.max(start, stop + 1)));
        }
        expect(d.length, ctx).toBe(model.length);
        const packed = d.check(); // chunk shape; elements in packed chunks
        mostPacked = Math.max(mostPacked, packed);
        if (step % 500 === 0) {
          expect([...d], ctx).toEqual(model);
          // A snapshot's image, live or copied, read in order and at random positions.
          const img = d.image(rng.chance(0.5));
          expect(img.count, ctx).toBe(model.length);
          expect(
            Array.from({ length: model.length }, (_, e) => img.at?.(e)),
            ctx,
          ).toEqual(model);
          for (let k = 0; k < 20 && model.length > 0; k++) {
            const e = rng.int(0, model.length - 1);
            expect(img.at?.(e), ctx).toBe(model[e]);
          }
        }
        const open = model.length - packed;
        expect(d.bytes, ctx).toBe(model.reduce((s, v) => s + v.length, DEQUE_BASE + open * OPEN_ENTRY + packed * PACKED_ENTRY));
      }
      expect([...d]).toEqual(model);
      expect(mostPacked, `seed ${seed}`).toBeGreaterThan(4 * CHUNK); // packing really ran
    }
  });

  it('a ring of 100k pushes then pops is O(1) each: no copy per push', () => {
    const d = new Deque();
    for (let i = 0; i < 100_000; i++) d.pushBack(`e${i}`);
    for (let i = 0; i < 50_000; i++) d.pushFront(`f${i}`);
    expect(d.get(0)).toBe('f49999');
    expect(d.get(50_000)).toBe('e0');
    for (let i = 0; i < 150_000; i++) d.popFront();
    expect(d.length).toBe(0);
    expect(d.bytes).toBe(DEQUE_BASE);
  });
});

describe('Hash against a Map', () => {
  it('random HSET/HDEL/HGET with encodings, order and accounting checked', () => {
    for (const seed of [4, 5]) {
      const rng = new SplitMix32(seed);
      const h = new Hash({ maxListpackEntries: 16, maxListpackValue: 64 });
      const model = new Map<string, string>();
      for (let step = 0; step < 6000; step++) {
        const ctx = `seed ${seed} step ${step}`;
        const op = rng.int(0, 5);
        const f = `f${rng.int(0, step < 3000 ? 15 : 60)}`;
        if (op <= 1) {
          const v = step < 2000 ? `v${rng.int(0, 9)}` : value(rng);
          expect(h.set(f, v), ctx).toBe(!model.has(f));
          model.set(f, v);
        } else if (op === 2) {
          expect(h.delete(f), ctx).toBe(model.delete(f));
        } else if (op === 3) {
          expect(h.get(f), ctx).toBe(model.get(f));
          expect(h.has(f), ctx).toBe(model.has(f));
        } else if (op === 4) {
          const count = rng.int(-4, 6);
          const s = rng.u32();
          const picks = h.random(mulberry32(s), count);
          expect(picks, ctx).toEqual(h.random(mulberry32(s), count));
          for (const [pf, pv] of picks) expect(model.get(pf), ctx).toBe(pv);
          expect(picks.length, ctx).toBe(count < 0 ? (model.size ? -count : 0) : Math.min(count, model.size));
          if (count > 0) expect(new Set(picks.map((p) => p[0])).size, ctx).toBe(picks.length);
        } else {
          const got = [...h.entries()];
          if (h.encoding === 'listpack')
            expect(got, ctx).toEqual([...model.entries()]); // Redis's order
          else expect(new Map(got), ctx).toEqual(model);
        }
        expect(h.size, ctx).toBe(model.size);
        const per = h.encoding === 'hashtable' ? HASHTABLE_FIELD : LISTPACK_FIELD;
        let bytes = HASH_BASE;
        for (const [k, v] of model) bytes += k.length + v.length + per;
        expect(h.bytes, ctx).toBe(bytes);
      }
      expect(h.encoding).toBe('hashtable');
    }
  });

  it('converts on a long value, even when it overwrites a field', () => {
    const h = new Hash();
    h.set('a', 'x');
    expect(h.encoding).toBe('listpack');
    h.set('a', 'y'.repeat(65));
    expect(h.encoding).toBe('hashtable');
    h.delete('a');
    expect(h.encoding).toBe('hashtable');
  });
});

describe('MemberSet against a Set', () => {
  it('random SADD/SREM/SPOP with intset order, conversion and accounting checked', () => {
    for (const seed of [6, 7, 8]) {
      const rng = new SplitMix32(seed);
      const s = new MemberSet(32);
      const model = new Set<string>();
      let sawIntset = false;
      for (let step = 0; step < 6000; step++) {
        const ctx = `seed ${seed} step ${step}`;
        const op = rng.int(0, 5);
        // Integers (canonical, big, negative) first; non-canonical ones and words later.
        const ints = ['0', '-1', '9223372036854775807', '-9223372036854775808', '9007199254740993', `${rng.int(-40, 40)}`];
        const m =
          step < 2500 || rng.chance(0.5) ? ints[rng.int(0, ints.length - 1)] : ['01', '+1', '-0', '9223372036854775808', `w${rng.int(0, 30)}`][rng.int(0, 4)];
        if (op <= 1) {
          expect(s.add(m), ctx).toBe(!model.has(m));
          model.add(m);
        } else if (op === 2) {
          expect(s.delete(m), ctx).toBe(model.delete(m));
        } else if (op === 3) {
          expect(s.has(m), ctx).toBe(model.has(m));
        } else if (op === 4) {
          const count = rng.int(-4, 6);
          const seedPick = rng.u32();
          if (rng.chance(0.3) && count >= 0) {
            const popped = s.pop(mulberry32(seedPick), count);
            expect(popped.length, ctx).toBe(Math.min(count, model.size));
            for (const p of popped) expect(model.delete(p), ctx).toBe(true);
          } else {
            const picks = s.random(mulberry32(seedPick), count);
            expect(picks, ctx).toEqual(s.random(mulberry32(seedPick), count));
            for (const p of picks) expect(model.has(p), ctx).toBe(true);
            if (count > 0) expect(new Set(picks).size, ctx).toBe(picks.length);
          }
        } else {
          const got = [...s];
          if (s.encoding === 'intset') {
            sawIntset = true;
            expect(got, ctx).toEqual([...model].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
          } else expect(new Set(got), ctx).toEqual(model);
        }
        expect(s.size, ctx).toBe(model.size);
        const per = s.encoding === 'hashtable' ? HASHTABLE_MEMBER : INTSET_MEMBER;
        let bytes = SET_BASE;
        for (const x of model) bytes += x.length + per;
        expect(s.bytes, ctx).toBe(bytes);
      }
      expect(sawIntset).toBe(true);
      expect(s.encoding).toBe('hashtable');
    }
  });
});

describe('pickIndices (Redis count rule)', () => {
  it('positive: distinct, all when count >= size; negative: |count| with repeats; uniform enough', () => {
    const rng = mulberry32(99);
    expect(pickIndices(rng, 5, 9).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(pickIndices(rng, 0, -3)).toEqual([]);
    expect(pickIndices(rng, 3, -10)).toHaveLength(10);
    const hits = new Array(10).fill(0);
    for (let k = 0; k < 20000; k++) for (const i of pickIndices(rng, 10, 2)) hits[i]++;
    for (const h of hits) expect(Math.abs(h - 4000)).toBeLessThan(400);
    const many = pickIndices(rng, 100, 90);
    expect(new Set(many).size).toBe(90);
  });
});

describe('SCAN steps (Hash.scan, MemberSet.scan, SortedSet.scan)', () => {
  it('every member present for the whole scan is returned, under random adds and deletes', () => {
    for (const seed of [21, 22, 23]) {
      const rng = new SplitMix32(seed);
      const s = new MemberSet();
      const h = new Hash();
      const z = new SortedSet();
      for (let i = 0; i < 2000; i++) {
        s.add(`m${i}`);
        h.set(`m${i}`, `v${i}`);
        z.set(`m${i}`, i % 7);
      }
      const start = new Set([...s]);
      const deleted = new Set<string>();
      const seenS = new Set<string>();
      const seenH = new Set<string>();
      const seenZ = new Set<string>();
      let cs = 0;
      let ch = 0;
      let cz = 0;
      let steps = 0;
      do {
        const count = rng.int(1, 50);
        const rs = s.scan(cs, count);
        const rh = h.scan(ch, count);
        const rz = z.scan(cz, count);
        for (const [m, score] of rz.entries) {
          seenZ.add(m);
          expect(z.score(m) === undefined || z.score(m) === score).toBe(true);
        }
        cz = rz.cursor;
        for (const m of rs.members) seenS.add(m);
        for (const [f] of rh.entries) seenH.add(f);
        cs = rs.cursor;
        ch = rh.cursor;
        for (let k = 0; k < 20; k++) {
          const m = `m${rng.int(0, 2999)}`;
          if (rng.chance(0.5)) {
            s.delete(m);
            h.delete(m);
            z.remove(m);
            deleted.add(m);
          } else {
            s.add(m);
            h.set(m, 'x');
            z.set(m, rng.int(0, 9));
          }
        }
        steps++;
      } while ((cs !== 0 || ch !== 0 || cz !== 0) && steps < 10_000);
      expect(cs).toBe(0);
      expect(ch).toBe(0);
      for (const m of start) {
        if (deleted.has(m)) continue;
        expect(seenS.has(m), `seed ${seed} set ${m}`).toBe(true);
        expect(seenH.has(m), `seed ${seed} hash ${m}`).toBe(true);
        expect(seenZ.has(m), `seed ${seed} zset ${m}`).toBe(true);
      }
    }
  });

  it('a compact encoding is returned whole with cursor 0, as Redis does', () => {
    const s = new MemberSet();
    for (let i = 0; i < 100; i++) s.add(String(i));
    expect(s.encoding).toBe('intset');
    expect(s.scan(0, 10)).toEqual({ cursor: 0, members: [...s] });
    const h = new Hash();
    h.set('a', '1');
    h.set('b', '2');
    expect(h.scan(0, 1)).toEqual({ cursor: 0, entries: [...h.entries()] });
  });
});
