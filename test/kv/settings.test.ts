/**
 * Cluster-wide settings in the state machine: the CONFIG op through the codec and apply, their
 * snapshot format (FORMAT 3 with the entry timestamp, FORMAT 2 without it, FORMAT 1 without
 * either: high-ts.test.ts has the timestamp), and apply staying total on bad pairs.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import { SnapshotFormatError } from '../../src/kv/errors.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { mergeSettings, settingPairs } from '../../src/kv/settings.ts';
import { KvStore } from '../../src/kv/store.ts';
import { b, collect, Harness } from './harness.ts';

const config = (...kv: [string, string | Buffer][]): KvOp => ({
  type: 'config',
  pairs: kv.map(([n, v]) => [b(n), typeof v === 'string' ? Buffer.from(v, 'utf8') : v]),
});

async function roundTrip(store: KvStore): Promise<{ data: Buffer; copy: KvStore }> {
  const data = await collect(store.beginSnapshot());
  const copy = new KvStore({ maxmemory: 7, policy: 'volatile-ttl' });
  await copy.restore(data);
  return { data, copy };
}

describe('CONFIG op', () => {
  it('round-trips through the codec with binary names and values', () => {
    const op = config(['requirepass', 'pä\x00ss'], ['maxmemory', '18446744073709551615'], ['\xff', Buffer.from([0, 255])]);
    const decoded = decodeEntry(encodeEntry({ ts: 1, ops: [op] }));
    expect(decoded.ops).toEqual([op]);
    // Entry header (format, ts, nwatch, nops), then op code, pair count and 2 x (len + bytes).
    const one = encodeEntry({ ts: 1, ops: [config(['maxmemory', '100'])] });
    expect(one.length).toBe(4 + 1 + 1 + (1 + 9) + (1 + 3));
  });

  it('applies every pair of one op at its index; later pairs win; store limits follow', () => {
    const h = new Harness({ maxmemory: 5, policy: 'noeviction' });
    expect(h.store.settings).toEqual({});
    expect(h.store.maxmemory).toBe(5);
    const op = config(['requirepass', 'pässwörd'], ['maxmemory', '100'], ['maxmemory-policy', 'allkeys-lru'], ['maxmemory', '200']);
    expect(h.run(op)).toEqual({ settings: [] });
    expect(h.store.settings).toEqual({ requirepass: 'pässwörd', maxmemory: 200, maxmemoryPolicy: 'allkeys-lru' });
    expect(h.store.maxmemory).toBe(200);
    expect(h.store.policy).toBe('allkeys-lru');
    // The node-local default no longer matters once the log set a value.
    h.store.maxmemory = 1;
    expect(h.store.maxmemory).toBe(200);
    expect(h.store.appliedIndex).toBe(1);
  });

  it('ignores (and reports, without the value) pairs it cannot use; the others still apply; never throws', () => {
    const h = new Harness();
    const bad: [string, string | Buffer][] = [
      ['maxmemory', '-1'],
      ['maxmemory', '1gb'],
      ['maxmemory', '18446744073709551616'],
      ['maxmemory', ''],
      ['maxmemory', '007'],
      ['maxmemory-policy', 'allkeys-lfu'],
      ['maxmemory-policy', 'ALLKEYS-LRU'],
      ['requirepass', Buffer.from([0xc3, 0x28])],
      ['timeout', '10'],
      ['\x00\xff'.repeat(100), 'x'],
    ];
    const r = h.run(config(['maxmemory', '42'], ...bad, ['requirepass', 'ok']));
    expect(r).toEqual({
      settings: [
        'maxmemory: not a byte count',
        'maxmemory: not a byte count',
        'maxmemory: not a byte count',
        'maxmemory: not a byte count',
        'maxmemory: not a byte count',
        'maxmemory-policy: unknown eviction policy',
        'maxmemory-policy: unknown eviction policy',
        'requirepass: not valid UTF-8',
        'timeout: unknown cluster-wide setting',
        `${'??'.repeat(32)}: unknown cluster-wide setting`,
      ],
    });
    expect(h.store.settings).toEqual({ maxmemory: 42, requirepass: 'ok' });
  });

  it('is deterministic: replicas applying the same log hold the same settings and snapshot bytes', async () => {
    const a = new Harness({ maxmemory: 1 });
    const c = new Harness({ maxmemory: 999, policy: 'allkeys-random' });
    for (const h of [a, c]) {
      h.set('k', 'v');
      h.run(config(['maxmemory-policy', 'volatile-lru'], ['requirepass', 's3cret']));
      h.run(config(['requirepass', '']));
    }
    expect(a.store.settings).toEqual(c.store.settings);
    expect(a.store.settings).toEqual({ maxmemoryPolicy: 'volatile-lru', requirepass: '' });
    expect((await collect(a.store.beginSnapshot())).equals(await collect(c.store.beginSnapshot()))).toBe(true);
  });
});

describe('settings in snapshots', () => {
  it('round-trip (FORMAT 3, with the entry timestamp) and override the restoring store’s own defaults', async () => {
    const h = new Harness();
    h.set('k', 'v');
    h.run(config(['requirepass', 'pä ss\nword'], ['maxmemory', '18446744073709551615'], ['maxmemory-policy', 'volatile-ttl']));
    const { data, copy } = await roundTrip(h.store);
    expect(data[4]).toBe(3);
    expect(copy.settings).toEqual(h.store.settings);
    // Past 2^53, kept as the largest exact number (a limit no store reaches).
    expect(copy.maxmemory).toBe(Number.MAX_SAFE_INTEGER);
    expect(copy.policy).toBe('volatile-ttl');
    expect(copy.get(b('k'), 0)?.toString()).toBe('v');
    // And the restored store snapshots to the same bytes.
    expect((await collect(copy.beginSnapshot())).equals(data)).toBe(true);
  });

  it('without settings or a timestamp, write FORMAT 1 (what older versions read); restoring one clears settings', async () => {
    const h = new Harness();
    // Entries stamped 0 leave no timestamp to carry (one stamped later: high-ts.test.ts).
    h.ts = 0;
    h.set('k', 'v');
    const { data, copy } = await roundTrip(h.store);
    expect(data[4]).toBe(1);
    expect(copy.settings).toEqual({});
    // The restoring store keeps its own defaults where the log set nothing.
    expect(copy.maxmemory).toBe(7);
    expect(copy.policy).toBe('volatile-ttl');
    // A store that had settings loses them to a snapshot without: the snapshot is the whole state.
    const had = new Harness();
    had.run(config(['requirepass', 'x']));
    await had.store.restore(data);
    expect(had.store.settings).toEqual({});
  });

  it('hold the values as of the snapshot index, not later CONFIG ops', async () => {
    const h = new Harness();
    for (let i = 0; i < 3000; i++) h.set(`key${i}`, 'v'.repeat(100));
    h.run(config(['requirepass', 'before']));
    const writer = h.store.beginSnapshot(4096);
    const chunks: Uint8Array[] = [];
    for await (const c of writer) {
      chunks.push(Buffer.from(c));
      h.run(config(['requirepass', 'after'], ['maxmemory', '1']));
    }
    const copy = new KvStore();
    await copy.restore(Buffer.concat(chunks));
    expect(copy.settings).toEqual({ requirepass: 'before' });
    expect(h.store.settings).toEqual({ requirepass: 'after', maxmemory: 1 });
  });

  it('a FORMAT 1 snapshot written before settings existed still loads', async () => {
    // Header of format 1 as the previous version wrote it: magic, format, index 9, 0 keys, 0 buckets, crc.
    const { crc32 } = await import('node:zlib');
    const body = Buffer.concat([Buffer.from('RKVS', 'latin1'), Buffer.from([1, 9, 0, 0])]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32(body));
    const copy = new KvStore();
    expect(await copy.restore(Buffer.concat([body, crc]))).toBe(9);
    expect(copy.settings).toEqual({});
  });

  it('drop settings this version does not know, and reject a corrupt settings section', async () => {
    const { crc32 } = await import('node:zlib');
    const withSettings = (pairs: [string, string][], count = pairs.length): Buffer => {
      const parts: Buffer[] = [Buffer.from('RKVS', 'latin1'), Buffer.from([2, 3, 0, 0]), Buffer.from([count])];
      for (const [n, v] of pairs) parts.push(Buffer.from([n.length]), b(n), Buffer.from([v.length]), b(v));
      const body = Buffer.concat(parts);
      const crc = Buffer.alloc(4);
      crc.writeUInt32LE(crc32(body));
      return Buffer.concat([body, crc]);
    };
    const copy = new KvStore();
    await copy.restore(
      withSettings([
        ['future-setting', 'x'],
        ['maxmemory', '5'],
      ]),
    );
    expect(copy.settings).toEqual({ maxmemory: 5 });
    await expect(copy.restore(withSettings([['maxmemory', '5']], 2))).rejects.toThrow(SnapshotFormatError);
    await expect(copy.restore(withSettings([], 0x7f).subarray(0, 12))).rejects.toThrow(SnapshotFormatError);
  });
});

describe('settingPairs / mergeSettings', () => {
  it('are inverse on every valid value', () => {
    const s = { requirepass: '€ \x00 x', maxmemory: Number.MAX_SAFE_INTEGER, maxmemoryPolicy: 'allkeys-random' as const };
    const back = {};
    expect(mergeSettings(back, settingPairs(s))).toEqual([]);
    expect(back).toEqual(s);
  });
});
