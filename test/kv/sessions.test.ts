/**
 * Idempotency records (sessions.ts, issue 11 hole 5): an entry led by a SESSION op applies at
 * most once per key and answers the first results; expiry by entry timestamps; the byte cap;
 * malformed records are no-ops; snapshots (FORMAT 5) carry the table byte for byte.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { MAX_SESSION_BYTES, SESSION_ERR, SESSION_OVERHEAD } from '../../src/kv/sessions.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, Harness } from './harness.ts';

const FP = b('f'.repeat(32));
const OTHER = b('g'.repeat(32));

function session(key: string, fingerprint = FP, ttlMs = 60_000): KvOp {
  return { type: 'session', key: b(key), fingerprint, ttlMs };
}

/** The table's snapshot bytes and a copy restored from them. */
async function roundTrip(store: KvStore): Promise<{ data: Buffer; copy: KvStore }> {
  const data = await collect(store.beginSnapshot());
  const copy = new KvStore();
  await copy.restore(data);
  return { data, copy };
}

describe('an entry led by a SESSION op', () => {
  it('applies once and answers the first results to a repeat, even after other writes', () => {
    const h = new Harness();
    h.set('n', '1');
    const first = h.exec([session('k1'), { type: 'incrby', key: b('n'), delta: 5n }]);
    expect(first).toEqual([[{ status: 'applied' }, 2], 6]);
    h.set('other', 'x');
    const again = h.exec([session('k1'), { type: 'incrby', key: b('n'), delta: 5n }]);
    expect(again).toEqual([[{ status: 'replayed' }, 2], 6]);
    expect(h.get('n')).toBe('6');
  });

  it('answers the conflict error for the same key with another fingerprint, and applies nothing', () => {
    const h = new Harness();
    h.exec([session('k'), { type: 'set', key: b('a'), value: b('1') }]);
    expect(h.exec([session('k', OTHER), { type: 'set', key: b('a'), value: b('2') }])).toEqual([{ err: SESSION_ERR.conflict }]);
    expect(h.get('a')).toBe('1');
  });

  it('records errors and deletions as first results (DEL answers 1 again, not 0)', () => {
    const h = new Harness();
    h.set('a', 'v');
    expect(h.exec([session('d'), { type: 'del', keys: [b('a')] }])).toEqual([[{ status: 'applied' }, 2], 1]);
    expect(h.exec([session('d'), { type: 'del', keys: [b('a')] }])).toEqual([[{ status: 'replayed' }, 2], 1]);
    h.set('s', 'text');
    const err = h.exec([session('e'), { type: 'incrby', key: b('s'), delta: 1n }]);
    expect(h.exec([session('e'), { type: 'incrby', key: b('s'), delta: 1n }])).toEqual([[{ status: 'replayed' }, 5], err[1]]);
  });

  it('expires by entry timestamps: at ts + ttl the key is free for any request', () => {
    const h = new Harness();
    h.exec([session('k', FP, 1000), { type: 'set', key: b('a'), value: b('1') }]);
    h.ts += 999;
    expect(h.exec([session('k', OTHER, 1000), { type: 'set', key: b('a'), value: b('2') }])).toEqual([{ err: SESSION_ERR.conflict }]);
    h.ts += 1;
    expect(h.exec([session('k', OTHER, 1000), { type: 'set', key: b('a'), value: b('2') }])).toEqual([[{ status: 'applied' }, 3], 'OK']);
    expect(h.get('a')).toBe('2');
  });

  it('expires a record behind a longer-lived one too (lookups judge each by its own time)', () => {
    const h = new Harness();
    h.exec([session('long', FP, 60_000), { type: 'set', key: b('a'), value: b('1') }]);
    h.exec([session('short', FP, 1000), { type: 'set', key: b('a'), value: b('2') }]);
    h.ts += 1000;
    expect(h.exec([session('short', OTHER, 1000), { type: 'set', key: b('a'), value: b('3') }])).toEqual([[{ status: 'applied' }, 3], 'OK']);
    expect(h.exec([session('long', OTHER), { type: 'set', key: b('a'), value: b('4') }])).toEqual([{ err: SESSION_ERR.conflict }]);
  });

  it('drops expired records as later entries pass them (any entry, not only SESSION ones)', () => {
    const h = new Harness();
    for (let i = 0; i < 10; i++) h.exec([session(`k${i}`, FP, 1000), { type: 'set', key: b('a'), value: b('1') }]);
    expect(h.store.sessionStats().records).toBe(10);
    h.ts += 1000;
    h.set('x', 'y');
    expect(h.store.sessionStats()).toEqual({ records: 0, bytes: 0 });
  });

  it('is a no-op with an error when malformed, and SESSION elsewhere than first changes nothing', () => {
    const h = new Harness();
    const bad: KvOp[] = [
      session(''),
      session('x'.repeat(256)),
      session('k', b('')),
      session('k', b('f'.repeat(65))),
      session('k', FP, 0),
      session('k', FP, 31 * 24 * 3600 * 1000),
    ];
    for (const op of bad) expect(h.exec([op, { type: 'set', key: b('a'), value: b('1') }])).toEqual([{ err: SESSION_ERR.malformed }]);
    expect(h.exec([{ type: 'set', key: b('a'), value: b('1') }, session('k')])).toEqual(['OK', { err: SESSION_ERR.malformed }]);
    expect(h.store.sessionStats().records).toBe(0);
    expect(h.exec([session('k'), { type: 'get', key: b('a') }])).toEqual([[{ status: 'applied' }, 8], '1']);
  });

  it('keeps the accounted bytes under MAX_SESSION_BYTES by dropping the oldest records', () => {
    const h = new Harness();
    const key = (i: number) => `key-${String(i).padStart(250, '0')}`;
    // Key, fingerprint, results [1] (count, tag, value: 3 bytes) and the overhead.
    const perRecord = key(0).length + FP.length + 3 + SESSION_OVERHEAD;
    const fits = Math.floor(MAX_SESSION_BYTES / perRecord);
    for (let i = 0; i < fits + 100; i++) h.exec([session(key(i)), { type: 'del', keys: [b('a')] }]);
    const stats = h.store.sessionStats();
    expect(stats.bytes).toBeLessThanOrEqual(MAX_SESSION_BYTES);
    expect(stats).toEqual({ records: fits, bytes: fits * perRecord });
    // The oldest went first: key 0 applies again, the newest still replays.
    expect(h.exec([session(key(fits + 99)), { type: 'del', keys: [b('a')] }])[0]).toEqual([{ status: 'replayed' }, fits + 100]);
    expect(h.exec([session(key(0)), { type: 'del', keys: [b('a')] }])[0]).toEqual([{ status: 'applied' }, fits + 102]);
  });
});

describe('SESSION in the log and in snapshots', () => {
  it('round-trips through the entry codec', () => {
    const op = session('key', FP, 86_400_000);
    expect(decodeEntry(encodeEntry({ ts: 5, ops: [op] })).ops[0]).toEqual(op);
  });

  it('carries the table in FORMAT 5: a restored store replays, conflicts and expires alike', async () => {
    const h = new Harness();
    h.exec([session('k1', FP, 5000), { type: 'set', key: b('a'), value: b('1') }]);
    h.exec([session('k2', FP, 10_000), { type: 'del', keys: [b('zz')] }]);
    h.set('b', '2');
    const { data, copy } = await roundTrip(h.store);
    expect(data[4]).toBe(5);
    expect(copy.sessionStats()).toEqual(h.store.sessionStats());
    // The restored store snapshots to the same bytes, as a replica would.
    expect((await collect(copy.beginSnapshot())).equals(data)).toBe(true);
    const replay = (s: KvStore, ts: number, key: string, fp = FP) =>
      s.apply(decodeEntry(encodeEntry({ ts, ops: [session(key, fp), { type: 'set', key: b('a'), value: b('9') }] })), 100);
    expect(replay(copy, h.ts, 'k1')[0]).toEqual({
      type: 'array',
      value: [
        { type: 'status', value: 'replayed' },
        { type: 'int', value: 1 },
      ],
    });
    expect(replay(copy, h.ts, 'k2', OTHER)).toEqual([{ type: 'error', message: SESSION_ERR.conflict }]);
    expect(copy.get(b('a'), h.ts)?.toString()).toBe('1');
    expect(replay(copy, h.ts + 5000, 'k1')[0]).toMatchObject({ value: [{ value: 'applied' }, { value: 100 }] });
  });

  it('still writes FORMAT 4 or older when the table is empty, and restores those with an empty table', async () => {
    const h = new Harness();
    h.set('a', '1');
    const { data, copy } = await roundTrip(h.store);
    expect(data[4]).toBeLessThan(5);
    expect(copy.sessionStats().records).toBe(0);
  });

  it('refuses a FORMAT 5 image whose records are corrupt', async () => {
    const h = new Harness();
    h.exec([session('k1'), { type: 'set', key: b('a'), value: b('1') }]);
    const { data } = await roundTrip(h.store);
    // The last record's results are [OK]: count 1, tag T_OK, just before the crc. An unknown tag:
    const bad = Buffer.from(data);
    expect([...bad.subarray(bad.length - 7, bad.length - 4)]).toEqual([2, 1, 1]);
    bad[bad.length - 5] = 0x7f;
    bad.writeUInt32LE(crc32(bad.subarray(0, bad.length - 4)), bad.length - 4);
    await expect(new KvStore().restore(bad)).rejects.toThrow(/idempotency/);
  });
});
