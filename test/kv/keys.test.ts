/** KEYS (Redis glob), SCAN cursors under concurrent modification, RANDOMKEY. */
import { describe, expect, it } from 'vitest';
import { globMatch } from '../../src/kv/glob.ts';
import { b, Harness, rng } from './harness.ts';

describe('glob matching (ported from Redis stringmatchlen; 765k pairs checked against redis-server 7.0.15)', () => {
  const cases: [string, string, boolean][] = [
    ['*', '', false], // KEYS * and SCAN MATCH * short-cut this and do list the empty key
    ['**', '', false],
    ['*', 'anything', true],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'heeeello', true],
    ['h*llo', 'hllo', true],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hallo', true], // reversed ranges are swapped
    ['h[a-b]llo', 'hcllo', false],
    ['h\\*llo', 'h*llo', true],
    ['h\\*llo', 'hello', false],
    ['[\\]]', ']', true],
    ['[a-]', '-', false], // "a-]" is the range a..] (a=0x61 > ]=0x5d, swapped)
    ['[a-]', '^', true],
    ['a[', 'a', false],
    ['a[b', 'ab', true], // an unclosed class still matches its members
    ['*a*b*c*', 'xxaxxbxxcxx', true],
    ['*a*b*c*', 'xxaxxcxxbxx', false],
    ['\\', '\\', true], // a lone trailing backslash is a literal
    ['a\\', 'a', false],
    ['**', 'x', true],
    ['a*', 'a', true],
  ];
  it.each(cases)('%j vs %j -> %s', (pattern, s, expected) => {
    expect(globMatch(pattern, s)).toBe(expected);
  });

  it('stays fast on pathological patterns (Redis cuts the backtracking short)', () => {
    const s = 'a'.repeat(60);
    expect(globMatch(`${'a*'.repeat(30)}b`, s)).toBe(false);
  });
});

describe('KEYS', () => {
  it('lists live keys matching the pattern, binary keys included', () => {
    const h = new Harness();
    for (const k of ['user:1', 'user:2', 'user:10', 'order:1', 'us\x00er', 'u\xffx']) h.set(k, 'v');
    h.set('user:expired', 'v', { pxat: h.ts + 1 });
    const keys = (p: string, now = h.ts + 1) =>
      h.store
        .keys(b(p), now)
        .map((k) => k.toString('latin1'))
        .sort();
    expect(keys('user:?')).toEqual(['user:1', 'user:2']);
    expect(keys('user:*')).toEqual(['user:1', 'user:10', 'user:2']);
    expect(keys('user:*', h.ts)).toEqual(['user:1', 'user:10', 'user:2', 'user:expired']);
    expect(keys('u*')).toEqual(['us\x00er', 'user:1', 'user:10', 'user:2', 'u\xffx']);
    expect(keys('order:1')).toEqual(['order:1']);
    expect(keys('nope')).toEqual([]);
    expect(keys('*')).toHaveLength(6);
  });

  it('KEYS * and SCAN MATCH * include the empty key, like Redis', () => {
    const h = new Harness();
    h.set('', 'v');
    expect(h.store.keys(b('*'), h.ts)).toEqual([b('')]);
    expect(h.store.scan(0, { match: b('*') }, h.ts).keys).toEqual([b('')]);
    expect(h.store.keys(b('**'), h.ts)).toEqual([]);
  });
});

describe('SCAN', () => {
  function scanAll(h: Harness, count: number, between?: (step: number) => void, match?: string) {
    const seen: string[] = [];
    let cursor = 0;
    let step = 0;
    do {
      const page = h.store.scan(cursor, { count, match: match === undefined ? undefined : b(match) }, h.ts);
      seen.push(...page.keys.map((k) => k.toString('latin1')));
      cursor = page.cursor;
      between?.(step++);
    } while (cursor !== 0);
    return seen;
  }

  it('a full iteration returns every key exactly once', () => {
    const h = new Harness();
    for (let i = 0; i < 1000; i++) h.set(`k${i}`, 'v');
    const seen = scanAll(h, 37);
    expect(seen).toHaveLength(1000);
    expect(new Set(seen).size).toBe(1000);
  });

  it('keys present throughout are returned exactly once despite concurrent inserts and deletes', () => {
    const h = new Harness();
    const r = rng(3);
    for (let i = 0; i < 3000; i++) h.set(`stable${i}`, 'v');
    for (let i = 0; i < 3000; i++) h.set(`churn${i}`, 'v');
    let next = 3000;
    const seen = scanAll(h, 50, () => {
      // Delete many churn keys (forcing order-array compactions) and add new ones.
      const dels = Array.from({ length: 80 }, () => b(`churn${Math.floor(r() * next)}`));
      h.run({ type: 'del', keys: dels });
      for (let i = 0; i < 40; i++) h.set(`churn${next++}`, 'v');
    });
    const stable = seen.filter((k) => k.startsWith('stable'));
    expect(stable).toHaveLength(3000);
    expect(new Set(stable).size).toBe(3000);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('COUNT is work, not results: MATCH may return empty pages before the end', () => {
    const h = new Harness();
    for (let i = 0; i < 100; i++) h.set(`a${i}`, 'v');
    h.set('target', 'v');
    const first = h.store.scan(0, { count: 10, match: b('target') }, h.ts);
    expect(first.keys).toEqual([]);
    expect(first.cursor).not.toBe(0);
    expect(scanAll(h, 10, undefined, 'target')).toEqual(['target']);
  });

  it('skips logically expired keys and ends with cursor 0', () => {
    const h = new Harness();
    h.set('live', 'v');
    h.set('dead', 'v', { pxat: h.ts + 1 });
    h.ts += 1;
    expect(h.store.scan(0, {}, h.ts)).toEqual({ cursor: 0, keys: [b('live')] });
    expect(new Harness().store.scan(0, {}, h.ts)).toEqual({ cursor: 0, keys: [] });
  });
});

describe('RANDOMKEY', () => {
  it('returns only live keys, null when there are none', () => {
    const h = new Harness();
    const r = rng(9);
    expect(h.store.randomKey(r, h.ts)).toBeNull();
    for (let i = 0; i < 50; i++) h.set(`k${i}`, 'v', i < 49 ? { pxat: h.ts + 10 } : {});
    h.run({ type: 'del', keys: [b('k0'), b('k1')] });
    const later = h.ts + 10;
    for (let i = 0; i < 20; i++) expect(h.store.randomKey(r, later)?.toString()).toBe('k49');
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) seen.add(h.store.randomKey(r, h.ts)!.toString());
    expect(seen.size).toBe(48);
    h.run({ type: 'del', keys: [b('k49')] });
    expect(h.store.randomKey(r, later)).toBeNull();
  });
});
