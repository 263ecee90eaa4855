/**
 * Replicas that apply the same log end in byte-identical states, whatever their local history
 * of reads, snapshots and restores.
 */
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import type { KvEntry, KvOp } from '../../src/kv/ops.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, rng } from './harness.ts';

/** A seeded random log mixing every write op, reads, MULTI entries and leader duties. */
function randomLog(seed: number, length: number, leader: KvStore): Uint8Array[] {
  const r = rng(seed);
  const key = () => b(`k${Math.floor(r() * 60)}`);
  const val = () => b('v'.repeat(Math.floor(r() * 20)) + String(Math.floor(r() * 100)));
  let ts = 1_700_000_000_000;
  const log: Uint8Array[] = [];
  const versions: number[] = [];
  for (let i = 1; i <= length; i++) {
    ts += Math.floor(r() * 50);
    const pick = (): KvOp => {
      switch (Math.floor(r() * 16)) {
        case 0:
          return { type: 'set', key: key(), value: val() };
        case 1:
          return { type: 'set', key: key(), value: val(), cond: r() < 0.5 ? 'nx' : 'xx', get: r() < 0.5, pxat: ts + Math.floor(r() * 500) };
        case 2:
          return { type: 'set', key: key(), value: val(), keepTtl: true };
        case 3:
          return { type: 'del', keys: [key(), key()] };
        case 4:
          return { type: 'pexpireat', key: key(), at: ts + Math.floor(r() * 1000) - 100, gt: r() < 0.3 };
        case 5:
          return { type: 'persist', key: key() };
        case 6:
          return { type: 'incrby', key: key(), delta: BigInt(Math.floor(r() * 200) - 100) };
        case 7:
          return { type: 'incrbyfloat', key: key(), incr: (r() * 10 - 5).toFixed(3) };
        case 8:
          return { type: 'append', key: key(), value: val() };
        case 9:
          return {
            type: 'mset',
            pairs: [
              [key(), val()],
              [key(), val()],
            ],
          };
        case 10:
          return { type: 'msetnx', pairs: [[key(), val()]] };
        case 11:
          return { type: 'getdel', key: key() };
        case 12:
          return { type: 'getex', key: key(), pxat: ts + Math.floor(r() * 800) };
        case 13:
          return r() < 0.02 ? { type: 'flushall' } : { type: 'get', key: key() };
        case 14:
          return { type: 'randomkey' };
        default:
          return { type: 'mget', keys: [key(), key()] };
      }
    };
    const ops = Array.from({ length: 1 + Math.floor(r() * 3) }, pick);
    // Leader duties, computed from the leader's own state as the runtime would.
    for (const due of leader.expiredSample(ts, 5)) ops.push({ type: 'expireIf', key: due.key, at: due.expiresAt });
    if (leader.usedMemory() > 30 * 260) ops.push({ type: 'evictIf', victims: leader.evictionCandidates(2000, 'allkeys-lru', r) });
    // WATCH as read a few entries earlier, so some EXECs see a changed version and abort.
    versions.push(leader.version(b('k1'), ts));
    const watch = r() < 0.2 ? [{ key: b('k1'), version: versions[Math.max(0, versions.length - 4)] }] : undefined;
    const entry: KvEntry = watch ? { ts, ops, watch } : { ts, ops };
    const data = encodeEntry(entry);
    leader.apply(decodeEntry(data), i);
    log.push(data);
  }
  return log;
}

describe('determinism', () => {
  it('two replicas applying the same log produce byte-identical snapshots and results', async () => {
    const leader = new KvStore();
    const log = randomLog(1, 3000, leader);
    const follower = new KvStore();
    const r = rng(2);
    const json = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    const results: string[] = [];
    const replicaResults: string[] = [];
    const replica = new KvStore();
    for (let i = 0; i < log.length; i++) {
      // The follower also serves local reads (touching LRU) that the replica never sees.
      follower.get(b(`k${i % 60}`), 1_700_000_000_000 + i, { touch: r() < 0.5 });
      follower.randomKey(r, 1_800_000_000_000);
      results.push(json(follower.apply(decodeEntry(log[i]), i + 1)));
      replicaResults.push(json(replica.apply(decodeEntry(log[i]), i + 1)));
    }
    const a = await collect(leader.beginSnapshot());
    const c = await collect(replica.beginSnapshot());
    expect(c.equals(a)).toBe(true);
    expect(replica.usedMemory()).toBe(leader.usedMemory());
    // Touching reads reorder LRU (snapshot order) but never content.
    const f = new KvStore();
    await f.restore(await collect(follower.beginSnapshot()));
    expect(f.keys(b('*'), 0).map(String).sort()).toEqual(replica.keys(b('*'), 0).map(String).sort());
    expect(replicaResults).toEqual(results);
    expect(results.filter((x) => x.includes('aborted')).length).toBeGreaterThan(0);
    expect(results.filter((x) => x.includes('"error"')).length).toBeGreaterThan(0);
  });

  it('a replica restored from a mid-log snapshot converges with one that replayed everything', async () => {
    const leader = new KvStore();
    const log = randomLog(3, 2000, leader);
    const full = new KvStore();
    const mid = new KvStore();
    for (let i = 0; i < 1000; i++) mid.apply(decodeEntry(log[i]), i + 1);
    const restored = new KvStore();
    await restored.restore(await collect(mid.beginSnapshot()));
    for (let i = 0; i < log.length; i++) full.apply(decodeEntry(log[i]), i + 1);
    for (let i = 1000; i < log.length; i++) restored.apply(decodeEntry(log[i]), i + 1);
    const a = await collect(full.beginSnapshot());
    const c = await collect(restored.beginSnapshot());
    expect(c.equals(a)).toBe(true);
  });
});
