/**
 * Differential checks against a real redis-server (loopback, no persistence): INCRBYFLOAT's
 * long double arithmetic and text, and glob matching, on seeded random inputs. redis-server (the Debian
 * package, which .ci/run installs) is required: test/support/redis-server.ts.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globMatch } from '../../src/kv/glob.ts';
import { RedisServer } from '../support/redis-server.ts';
import { b, Harness, rng } from './harness.ts';

describe('against redis-server', () => {
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = await server.client();
  });

  afterAll(() => server?.stop());

  it('INCRBYFLOAT gives the same text or error for 1500 random operands', async () => {
    const r = rng(2024);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 10)).join('');
    const operand = (): string => {
      switch (Math.floor(r() * 8)) {
        case 0:
          return `${pick(['', '-', '+'])}${digits(1 + Math.floor(r() * 4))}.${digits(Math.floor(r() * 4))}`;
        case 1:
          return `${pick(['', '-'])}${digits(1 + Math.floor(r() * 20))}`;
        case 2:
          return `${pick(['', '-'])}${digits(1 + Math.floor(r() * 3))}e${pick(['', '-', '+'])}${Math.floor(r() * 40)}`;
        case 3:
          return `${pick(['', '-'])}0.${digits(1 + Math.floor(r() * 25))}`;
        case 4:
          return `${digits(1 + Math.floor(r() * 6))}.${digits(1 + Math.floor(r() * 20))}e${pick(['-', ''])}${Math.floor(r() * 4940)}`;
        case 5:
          return `${pick(['', '-'])}0x${Math.floor(r() * 1e9).toString(16)}.${Math.floor(r() * 1e6).toString(16)}p${Math.floor(r() * 200) - 100}`;
        case 6:
          return pick(['inf', '-inf', 'nan', '1e', ' 1', '1 ', '', '.5', '5.', '1e4933', '1e-4952', '0x1p-16445', '1\x00']);
        default:
          return (r() * 1e6 - 5e5).toFixed(Math.floor(r() * 8));
      }
    };
    const h = new Harness();
    const mismatches: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const cur = r() < 0.1 ? null : operand();
      const incr = operand();
      const pipeline = redis.pipeline().del('k');
      if (cur !== null) pipeline.set('k', cur);
      await pipeline.exec();
      let theirs: unknown;
      try {
        theirs = await redis.incrbyfloat('k', incr);
      } catch (err) {
        theirs = { err: (err as Error).message };
      }
      h.run({ type: 'del', keys: [b('k')] });
      if (cur !== null) h.set('k', cur);
      const ours = h.run({ type: 'incrbyfloat', key: b('k'), incr });
      if (JSON.stringify(ours) !== JSON.stringify(theirs))
        mismatches.push(`${JSON.stringify([cur, incr])}: ${JSON.stringify(theirs)} vs ${JSON.stringify(ours)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('KEYS matches the same keys for 800 random patterns', async () => {
    const r = rng(77);
    const gen = (alphabet: string, max: number) => Array.from({ length: Math.floor(r() * max) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
    const keys = new Set<string>();
    while (keys.size < 150) keys.add(gen('abc-][\\^z*?', 6) || 'a');
    await redis.flushall();
    await redis.mset(...[...keys].flatMap((k) => [k, '1']));
    const mismatches: string[] = [];
    for (let i = 0; i < 800; i++) {
      const pattern = gen('abc*?[]^-\\z', 7) || '*';
      const theirs = new Set(await redis.keys(pattern));
      for (const k of keys) {
        // KEYS "*" short-cuts matching in Redis (see keys.test.ts); compare the matcher itself.
        if (pattern !== '*' && theirs.has(k) !== globMatch(pattern, k)) mismatches.push(`${JSON.stringify(pattern)} ${JSON.stringify(k)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
