/**
 * SortedSet against a naive model (an array sorted by score then member) under seeded random
 * operation sequences, in both encodings and across the conversion: every reply is compared,
 * the tree's invariants are checked, and `bytes` is compared with a recomputation from the
 * model after every operation.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src/kv/prng.ts';
import { pairLess } from '../../../src/kv/structs/score-tree.ts';
import { LISTPACK_ENTRY, SKIPLIST_ENTRY, SortedSet, type ZEntry, ZSET_BASE } from '../../../src/kv/structs/zset.ts';
import type { LexBound, Limit, ScoreBound } from '../../../src/kv/structs/zset-bounds.ts';
import { SplitMix32 } from '../../support/splitmix32.ts';

class Model {
  entries: ZEntry[] = [];
  sort(): void {
    this.entries.sort((a, b) => (pairLess(a[1], a[0], b[1], b[0]) ? -1 : pairLess(b[1], b[0], a[1], a[0]) ? 1 : 0));
  }
  find(m: string): number {
    return this.entries.findIndex((e) => e[0] === m);
  }
  inScore(s: number, min: ScoreBound, max: ScoreBound): boolean {
    return (min.exclusive ? s > min.score : s >= min.score) && (max.exclusive ? s < max.score : s <= max.score);
  }
  inLex(m: string, min: LexBound, max: LexBound): boolean {
    const lowOk = min === '-' ? true : min === '+' ? false : min.exclusive ? m > min.member : m >= min.member;
    const highOk = max === '+' ? true : max === '-' ? false : max.exclusive ? m < max.member : m <= max.member;
    return lowOk && highOk;
  }
  limit(list: ZEntry[], reverse: boolean, limit?: Limit): ZEntry[] {
    const l = reverse ? [...list].reverse() : list;
    if (!limit) return l;
    return limit.count < 0 ? l.slice(limit.offset) : l.slice(limit.offset, limit.offset + limit.count);
  }
}

const SCORES = [0, -0, 1, -1, 2.5, 1e300, -1e-300, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3];

function randomScore(rng: SplitMix32): number {
  return rng.chance(0.5) ? SCORES[rng.int(0, SCORES.length - 1)] : rng.int(-50, 50) / 4;
}

function randomMember(rng: SplitMix32, pool: number): string {
  // Binary members, including bytes above 0x7f and prefixes of each other.
  const n = rng.int(0, pool);
  return rng.chance(0.1) ? `\xff${n}` : rng.chance(0.1) ? `m${n}\x00` : `m${n}`;
}

function scoreBound(rng: SplitMix32): ScoreBound {
  return { score: randomScore(rng), exclusive: rng.chance(0.4) };
}

function lexBound(rng: SplitMix32, pool: number): LexBound {
  const r = rng.next();
  if (r < 0.1) return '-';
  if (r < 0.2) return '+';
  return { member: randomMember(rng, pool), exclusive: rng.chance(0.4) };
}

function randomLimit(rng: SplitMix32): Limit | undefined {
  return rng.chance(0.5) ? undefined : { offset: rng.int(0, 10), count: rng.int(-1, 15) };
}

function expectedBytes(z: SortedSet, model: Model): number {
  const per = z.encoding === 'skiplist' ? SKIPLIST_ENTRY : LISTPACK_ENTRY;
  return model.entries.reduce((sum, [m]) => sum + m.length + per, ZSET_BASE);
}

/** Runs `steps` random operations; `sameScore` keeps every score 0 for the lex commands. */
function run(seed: number, steps: number, pool: number, maxEntries: number, sameScore: boolean, checkEvery: number): SortedSet {
  const rng = new SplitMix32(seed);
  // Nodes of at most 4 make a 400-member tree 4-5 levels deep: every split and merge path runs.
  const z = new SortedSet({ maxListpackEntries: maxEntries, maxListpackValue: 64, treeNodeMax: 4 });
  const model = new Model();
  for (let step = 0; step < steps; step++) {
    const op = rng.int(0, 11);
    const ctx = `seed ${seed} step ${step} op ${op}`;
    if (op <= 3) {
      const m = randomMember(rng, pool);
      const s = sameScore ? 0 : randomScore(rng);
      const i = model.find(m);
      const prev = z.set(m, s);
      expect(prev, ctx).toBe(i < 0 ? undefined : model.entries[i][1]);
      if (i < 0) model.entries.push([m, s === 0 && z.encoding === 'listpack' ? 0 : s]);
      else if (model.entries[i][1] !== s) model.entries[i][1] = s === 0 && z.encoding === 'listpack' ? 0 : s;
      model.sort();
    } else if (op === 4) {
      const m = randomMember(rng, pool);
      const i = model.find(m);
      expect(z.remove(m), ctx).toBe(i >= 0);
      if (i >= 0) model.entries.splice(i, 1);
    } else if (op === 5) {
      const m = randomMember(rng, pool);
      const i = model.find(m);
      expect(z.score(m), ctx).toBe(i < 0 ? undefined : model.entries[i][1]);
      const reverse = rng.chance(0.5);
      expect(z.rank(m, reverse), ctx).toBe(i < 0 ? undefined : reverse ? model.entries.length - 1 - i : i);
    } else if (op === 6) {
      const start = rng.int(0, model.entries.length + 2);
      const stop = rng.int(start - 2, model.entries.length + 2);
      const reverse = rng.chance(0.5);
      const want = (reverse ? [...model.entries].reverse() : model.entries).slice(start, Math.max(start, stop + 1));
      expect(z.rangeByRank(start, stop, reverse), ctx).toEqual(want);
    } else if (op === 7) {
      const min = scoreBound(rng);
      const max = scoreBound(rng);
      const reverse = rng.chance(0.5);
      const limit = randomLimit(rng);
      const inRange = model.entries.filter(([, s]) => model.inScore(s, min, max));
      expect(z.countByScore(min, max), ctx).toBe(inRange.length);
      expect(z.rangeByScore(min, max, reverse, limit), ctx).toEqual(model.limit(inRange, reverse, limit));
    } else if (op === 8 && sameScore) {
      const min = lexBound(rng, pool);
      const max = lexBound(rng, pool);
      const reverse = rng.chance(0.5);
      const limit = randomLimit(rng);
      const inRange = model.entries.filter(([m]) => model.inLex(m, min, max));
      expect(z.countByLex(min, max), ctx).toBe(inRange.length);
      expect(z.rangeByLex(min, max, reverse, limit), ctx).toEqual(model.limit(inRange, reverse, limit));
    } else if (op === 9) {
      const count = rng.int(1, 3);
      const max = rng.chance(0.5);
      const want = max ? model.entries.slice(-count).reverse() : model.entries.slice(0, count);
      expect(z.pop(count, max), ctx).toEqual(want);
      model.entries = max ? model.entries.slice(0, Math.max(0, model.entries.length - count)) : model.entries.slice(count);
    } else if (op === 10 && rng.chance(0.3)) {
      // ZREMRANGEBYSCORE (or BYLEX when all scores are equal)
      const span = sameScore ? z.lexSpan(lexBound(rng, pool), lexBound(rng, pool)) : z.scoreSpan(scoreBound(rng), scoreBound(rng));
      const want = model.entries.slice(span[0], span[1]);
      expect(z.removeSpan(span), ctx).toEqual(want);
      model.entries.splice(span[0], want.length);
    } else if (op === 10) {
      const count = rng.int(-5, 8);
      const seedPick = rng.u32();
      const picks = z.random(mulberry32(seedPick), count);
      expect(picks, ctx).toEqual(z.random(mulberry32(seedPick), count)); // same seed, same picks
      const n = model.entries.length;
      expect(picks.length, ctx).toBe(count < 0 ? (n === 0 ? 0 : -count) : Math.min(count, n));
      for (const p of picks) expect(model.entries, ctx).toContainEqual(p);
      if (count > 0) expect(new Set(picks.map((p) => p[0])).size, ctx).toBe(picks.length);
    } else {
      expect([...z.entries()], ctx).toEqual(model.entries);
    }
    expect(z.size, ctx).toBe(model.entries.length);
    expect(z.bytes, ctx).toBe(expectedBytes(z, model));
    if (step % checkEvery === 0) z.check();
  }
  z.check();
  expect([...z.entries()]).toEqual(model.entries);
  return z;
}

describe('SortedSet against a model', () => {
  it('listpack only: 3000 random operations on up to 40 members', () => {
    for (const seed of [1, 2]) expect(run(seed, 3000, 40, 1000, false, 1).encoding).toBe('listpack');
  });

  it('converts to the tree and keeps going: 400 members in nodes of 4, so splits and merges at every level', () => {
    for (const seed of [3, 4, 5]) expect(run(seed, 6000, 400, 16, false, 10).encoding).toBe('skiplist');
  });

  it('lex ranges and counts with all scores equal, both encodings', () => {
    expect(run(6, 3000, 60, 1000, true, 1).encoding).toBe('listpack');
    expect(run(7, 6000, 300, 16, true, 10).encoding).toBe('skiplist');
  });

  it('a long member converts at once; -0 keeps its sign in the tree only', () => {
    const z = new SortedSet();
    z.set('a', -0);
    expect(Object.is(z.score('a'), 0)).toBe(true);
    z.set('x'.repeat(65), -0);
    expect(z.encoding).toBe('skiplist');
    expect(Object.is(z.score('x'.repeat(65)), -0)).toBe(true);
    expect(z.set('a', -0)).toBe(0); // equal score: nothing changes
    expect(Object.is(z.score('a'), 0)).toBe(true);
  });

  it('grows and shrinks a deep tree: 60k inserts, ranks, then deletes down to empty', () => {
    const z = new SortedSet();
    const rng = new SplitMix32(11);
    const members: string[] = [];
    for (let i = 0; i < 60000; i++) {
      const m = `k${i}`;
      members.push(m);
      z.set(m, rng.int(0, 1000));
    }
    z.check();
    const all = [...z.entries()];
    for (let k = 0; k < 200; k++) {
      const r = rng.int(0, all.length - 1);
      expect(z.rank(all[r][0])).toBe(r);
      expect(z.rangeByRank(r, r)).toEqual([all[r]]);
    }
    for (let i = members.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [members[i], members[j]] = [members[j], members[i]];
    }
    for (let i = 0; i < members.length; i++) {
      expect(z.remove(members[i])).toBe(true);
      if (i % 5000 === 0) z.check();
    }
    z.check();
    expect(z.size).toBe(0);
    expect(z.bytes).toBe(ZSET_BASE);
  });
});
