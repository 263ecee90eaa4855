/**
 * The newest entry timestamp applied (KvStore.highTs) is replicated state: raised by every
 * applied entry, carried by snapshots (FORMAT 3), byte-identical on replicas, and the floor of
 * the node's clock, so a node restored from a snapshot never stamps an entry older than the
 * log it replaced (issue 11, hole 4).
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { KvStore } from '../../src/kv/store.ts';
import { EntryClock } from '../../src/node/entry-clock.ts';
import { b, collect, Harness } from './harness.ts';

/** A snapshot image of an empty store: the header bytes after the magic, then the crc. */
function image(header: number[]): Buffer {
  const body = Buffer.concat([Buffer.from('RKVS', 'latin1'), Buffer.from(header)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body));
  return Buffer.concat([body, crc]);
}

/** The clock a node builds over `store` (applier.ts, entry-clock.ts), with a wall clock stuck at `wall`, not leading. */
function clockOver(store: KvStore, wall: number): EntryClock {
  const core = { isLeader: false, term: 1, logEntries: () => [] };
  return new EntryClock({ wall: () => wall, appliedTs: () => store.highTs, applied: () => store.appliedIndex, core: () => core });
}

describe('KvStore.highTs', () => {
  it('is the largest ts applied: an older entry, or one a WATCH aborts, never lowers it', () => {
    const h = new Harness();
    expect(h.store.highTs).toBe(0);
    h.ts = 5000;
    h.set('k', 'v');
    expect(h.store.highTs).toBe(5000);
    h.ts = 4000;
    h.set('k', 'w');
    expect(h.store.highTs).toBe(5000);
    h.ts = 6000;
    expect(h.exec([{ type: 'set', key: b('k'), value: b('x') }], [{ key: b('k'), version: -7 }])).toEqual(['ABORTED']);
    expect(h.store.highTs).toBe(6000);
  });
});

describe('the timestamp in snapshots', () => {
  it('round-trips (FORMAT 3), and the restored store snapshots to the same bytes', async () => {
    const h = new Harness();
    h.set('a', '1');
    h.ts += 60_000;
    h.set('b', '2');
    const data = await collect(h.store.beginSnapshot());
    expect(data[4]).toBe(3);
    const copy = new KvStore();
    await copy.restore(data);
    expect(copy.highTs).toBe(h.ts);
    expect((await collect(copy.beginSnapshot())).equals(data)).toBe(true);
  });

  it('a replica that applied the same log writes the same bytes', async () => {
    const a = new Harness();
    const c = new Harness();
    for (const h of [a, c]) {
      for (let i = 0; i < 50; i++) {
        h.ts += i % 7 === 3 ? -5 : 11;
        h.set(`k${i}`, `v${i}`, i % 4 === 0 ? { pxat: h.ts + 1000 } : {});
      }
    }
    expect(a.store.highTs).toBe(c.store.highTs);
    expect((await collect(a.store.beginSnapshot())).equals(await collect(c.store.beginSnapshot()))).toBe(true);
  });

  it('holds the value as of the snapshot index, not later entries', async () => {
    const h = new Harness();
    for (let i = 0; i < 3000; i++) h.set(`key${i}`, 'v'.repeat(100));
    const at = h.ts;
    const writer = h.store.beginSnapshot(4096);
    const chunks: Uint8Array[] = [];
    for await (const c of writer) {
      chunks.push(Buffer.from(c));
      h.ts += 1000;
      h.set('later', 'x');
    }
    const copy = new KvStore();
    await copy.restore(Buffer.concat(chunks));
    expect(copy.highTs).toBe(at);
    expect(h.store.highTs).toBeGreaterThan(at);
  });

  it('is laid out as one varint after the settings, and older formats still load with 0', async () => {
    const h = new Harness();
    h.ts = 300; // varint ac 02
    h.run({ type: 'dbsize' });
    // magic, 3, index 1, 0 keys, 0 buckets, 0 settings, ts, crc
    expect(await collect(h.store.beginSnapshot())).toEqual(image([3, 1, 0, 0, 0, 0xac, 0x02]));
    const copy = new KvStore();
    expect(await copy.restore(image([3, 9, 0, 0, 0, 0xac, 0x02]))).toBe(9);
    expect(copy.highTs).toBe(300);
    // A snapshot is the whole state: one without a timestamp resets it.
    expect(await copy.restore(image([1, 9, 0, 0]))).toBe(9);
    expect(copy.highTs).toBe(0);
    await copy.restore(image([3, 9, 0, 0, 0, 0xac, 0x02]));
    expect(await copy.restore(image([2, 9, 0, 0, 0]))).toBe(9);
    expect(copy.highTs).toBe(0);
  });
});

describe('a node restored from a snapshot', () => {
  it('stamps entries no older than the snapshot’s high-water, whatever its wall clock says', async () => {
    // The old leader's clock ran a minute ahead of this node's: its entries carry that time.
    const wall = 1_700_000_000_000;
    const h = new Harness();
    h.ts = wall + 60_000;
    h.set('k', 'v', { pxat: wall + 30_000 });
    h.set('other', 'x');
    const restored = new KvStore();
    await restored.restore(await collect(h.store.beginSnapshot()));
    const clock = clockOver(restored, wall);
    const ts = clock.now();
    expect(ts).toBeGreaterThanOrEqual(h.ts);
    // And it reads by that clock: the key the log already expired stays expired.
    expect(restored.get(b('k'), ts)).toBeNull();
    expect(clock.now()).toBeGreaterThanOrEqual(ts);
  });
});
