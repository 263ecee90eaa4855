/**
 * formatScore against a real redis-server 7.0: ZADD then ZSCORE (and ZRANGE WITHSCORES) for
 * thousands of seeded random doubles, in listpack-encoded and skiplist-encoded sorted sets
 * (a listpack stores the score as text, so both round trips are covered). redis-server
 * is required (test/support/redis-server.ts).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatScore } from '../../../src/kv/structs/float.ts';
import { SortedSet } from '../../../src/kv/structs/zset.ts';
import { RedisServer } from '../../support/redis-server.ts';
import { SplitMix32 } from '../../support/splitmix32.ts';

/** Text strtod reads back as exactly v. */
function argText(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return 'inf';
  if (v === Number.NEGATIVE_INFINITY) return '-inf';
  return Object.is(v, -0) ? '-0' : String(v);
}

function randomBitsDouble(rng: SplitMix32): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, rng.u32());
  view.setUint32(4, rng.u32());
  return view.getFloat64(0);
}

/** The edge cases, then seeded doubles of every kind. */
function inputs(n: number): number[] {
  const out = [
    0,
    -0,
    1,
    -1,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    1e-300,
    -1e-300,
    0.1 + 0.2,
    0.1,
    1 / 3,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 60,
    -(2 ** 63),
    1e16,
    1e17,
    1e17 + 16,
    1e21,
    1e22,
    1.7976931348623157e308,
    5e-324,
    2.2250738585072014e-308,
    1e-4,
    1e-5,
    0.00012345,
    1234567890123456.8,
    // Exact ties at the 17th digit: glibc rounds half to even, JS's toExponential up.
    2 ** 50 + 0.25,
    2 ** 50 + 0.75,
    2 ** 49 + 0.125,
    2 ** 51 + 0.5,
  ];
  const rng = new SplitMix32(0x5eed);
  while (out.length < n - 4) {
    const kind = rng.int(0, 5);
    let v: number;
    if (kind === 0) v = randomBitsDouble(rng);
    else if (kind === 1) v = rng.int(-1e6, 1e6) / 10 ** rng.int(0, 8);
    else if (kind === 2) v = (rng.next() - 0.5) * 10 ** rng.int(-20, 25);
    else if (kind === 3) v = (2 ** 53 + rng.int(0, 2 ** 20)) * 2 ** rng.int(0, 20) * (rng.chance(0.5) ? -1 : 1);
    else if (kind === 4)
      v = (2 ** rng.int(40, 52) + rng.int(0, 1000)) / 2 ** rng.int(1, 4); // tie candidates
    else v = rng.u32() * 2 ** rng.int(-1074, -1000); // subnormals and tiny
    if (!Number.isNaN(v)) out.push(v);
  }
  // Zeros added to sorted sets that are skiplists by then (the listpack turns -0 into 0).
  out.push(-0, 0, -0, -1e-320);
  return out;
}

describe('formatScore against redis-server', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = await server.client();
  });

  afterAll(() => server?.stop());

  it('ZSCORE prints 6000 doubles byte for byte as %.17g, listpack and skiplist alike', async () => {
    const values = inputs(6000);
    // Our SortedSet mirrors each key, so which zero it keeps is checked too.
    const mirrors = new Map<string, SortedSet>();
    const keyOf = (i: number) => `small:${Math.floor(i / 100)}`; // 100 members each: listpack
    const write = redis.pipeline();
    values.forEach((v, i) => {
      for (const key of [keyOf(i), 'big']) {
        write.zadd(key, argText(v), `m${i}`);
        if (!mirrors.has(key)) mirrors.set(key, new SortedSet());
        mirrors.get(key)!.set(`m${i}`, v);
      }
    });
    await write.exec();
    expect(await redis.object('ENCODING', 'small:0')).toBe('listpack');
    expect(await redis.object('ENCODING', 'big')).toBe('skiplist');
    expect(mirrors.get('small:0')!.encoding).toBe('listpack');
    expect(mirrors.get('big')!.encoding).toBe('skiplist');
    const read = redis.pipeline();
    values.forEach((_, i) => {
      read.zscore(keyOf(i), `m${i}`);
      read.zscore('big', `m${i}`);
    });
    const replies = (await read.exec())!.map(([err, r]) => {
      if (err) throw err;
      return r as string;
    });
    const mismatches: string[] = [];
    values.forEach((v, i) => {
      const want = [replies[2 * i], replies[2 * i + 1]];
      const got = [formatScore(mirrors.get(keyOf(i))!.score(`m${i}`)!), formatScore(mirrors.get('big')!.score(`m${i}`)!)];
      if (want[0] !== got[0] || want[1] !== got[1]) mismatches.push(`${argText(v)}: redis ${want.join('/')} ours ${got.join('/')}`);
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The edge cases really were exercised: both zeros, and a tie rounded to even.
    expect(replies).toContain('-0');
    expect(replies).toContain('0');
    expect(formatScore(2 ** 50 + 0.25)).toBe('1125899906842624.2');
  });

  it('WITHSCORES replies print the same text as ZSCORE', async () => {
    const flat = (await redis.zrange('small:0', 0, -1, 'WITHSCORES')) as string[];
    for (let i = 0; i < flat.length; i += 2) {
      expect(flat[i + 1]).toBe(await redis.zscore('small:0', flat[i]));
    }
  });
});
