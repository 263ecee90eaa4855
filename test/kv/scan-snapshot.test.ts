/**
 * SCAN cursors are key creation sequences (Item.seq), so they are replicated state: a snapshot
 * carries each key's seq and the keyspace's nextSeq (FORMAT 4), a SCAN continues on a node
 * restored from it (a new leader, a new member) without skipping or repeating keys, and a node
 * restored from a snapshot and one that replayed the log agree on every seq and write the same
 * bytes (issue 11, hole 7a).
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SnapshotFormatError } from '../../src/kv/errors.ts';
import { bucketOf } from '../../src/kv/keyspace.ts';
import { snapshotImageProblem } from '../../src/kv/snapshot-format.ts';
import { b, collect, Harness } from './harness.ts';

/** A snapshot image: the bytes after the magic, then the crc. */
function image(body: number[]): Buffer {
  const all = Buffer.concat([Buffer.from('RKVS', 'latin1'), Buffer.from(body)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(all));
  return Buffer.concat([all, crc]);
}

function uvarint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

/** `n` keys, then every third one deleted: the seqs have gaps. */
function gappy(n: number): Harness {
  const h = new Harness();
  for (let i = 0; i < n; i++) h.set(`k${i}`, `v${i}`);
  const dels: Buffer[] = [];
  for (let i = 0; i < n; i += 3) dels.push(b(`k${i}`));
  h.run({ type: 'del', keys: dels });
  return h;
}

/** Scans from `cursor` to the end (or for `pages` pages); the keys seen and the cursor reached. */
function scanFrom(h: Harness, cursor: number, count: number, pages = Number.POSITIVE_INFINITY): { keys: string[]; cursor: number } {
  const keys: string[] = [];
  for (let p = 0; p < pages; p++) {
    const page = h.store.scan(cursor, { count }, h.ts);
    keys.push(...page.keys.map((k) => k.toString('latin1')));
    cursor = page.cursor;
    if (cursor === 0) break;
  }
  return { keys, cursor };
}

/** A fresh store restored from `data`, wrapped so entries can be applied after the snapshot index. */
async function restored(data: Uint8Array, ts: number): Promise<Harness> {
  const h = new Harness();
  h.index = await h.store.restore(data);
  h.ts = ts;
  return h;
}

describe('SCAN across a snapshot restore', () => {
  it('a SCAN begun on A continues on B restored from A’s snapshot: every key present throughout exactly once', async () => {
    const a = gappy(3000);
    const first = scanFrom(a, 0, 100, 8);
    expect(first.cursor).not.toBe(0);
    const data = await collect(a.store.beginSnapshot());
    const bee = await restored(data, a.ts);
    const rest = scanFrom(bee, first.cursor, 100);
    const seen = [...first.keys, ...rest.keys];
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) if (i % 3 !== 0) expected.push(`k${i}`);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.sort()).toEqual(expected.sort());
    // And B's next snapshot is A's, byte for byte.
    expect((await collect(bee.store.beginSnapshot())).equals(data)).toBe(true);
  });

  it('a restored node and one that replayed the log agree on every seq, also for keys created later', async () => {
    const a = gappy(500);
    a.run({ type: 'flushall' });
    for (let i = 0; i < 40; i++) a.set(`after${i}`, 'x');
    a.run({ type: 'del', keys: [b('after3'), b('after4'), b('after39')] });
    const data = await collect(a.store.beginSnapshot());
    expect(data[4]).toBe(4);
    const bee = await restored(data, a.ts);
    // The same entries on both from here: new keys get the same seqs, so SCAN pages agree.
    for (const h of [a, bee]) {
      for (let i = 0; i < 20; i++) h.set(`new${i}`, 'y');
      h.run({ type: 'del', keys: [b('after10'), b('new5')] });
    }
    let cursor = 0;
    do {
      const pa = a.store.scan(cursor, { count: 7 }, a.ts);
      const pb = bee.store.scan(cursor, { count: 7 }, bee.ts);
      expect(pb).toEqual(pa);
      cursor = pa.cursor;
    } while (cursor !== 0);
    expect((await collect(bee.store.beginSnapshot())).equals(await collect(a.store.beginSnapshot()))).toBe(true);
  });

  it('a snapshot taken while keys are deleted and created keeps the seqs as of its index', async () => {
    const a = gappy(3000);
    const replica = gappy(3000); // stops at the snapshot's index
    const writer = a.store.beginSnapshot(4096);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of writer) {
      chunks.push(Buffer.from(c));
      a.run({ type: 'del', keys: [b(`k${1 + 3 * n}`), b(`k${2990 - 3 * n}`)] });
      a.set(`later${n++}`, 'z');
    }
    expect(n).toBeGreaterThan(3);
    const data = Buffer.concat(chunks);
    expect(data.equals(await collect(replica.store.beginSnapshot()))).toBe(true);
    const bee = await restored(data, a.ts);
    expect((await collect(bee.store.beginSnapshot())).equals(data)).toBe(true);
  });
});

describe('FORMAT 4', () => {
  it('is written only when the seqs have gaps, laid out as nextSeq after highTs and one seq delta per record', async () => {
    const h = new Harness();
    h.ts = 300; // varint ac 02
    h.set('a', '1'); // seq 1, version 1
    h.set('b', '2'); // seq 2
    h.set('c', '3'); // seq 3
    expect((await collect(h.store.beginSnapshot()))[4]).toBe(3);
    h.run({ type: 'del', keys: [b('b')] }); // index 4
    // magic, 4, index 4, 2 keys, 1 bucket (its index), 0 settings, ts, nextSeq 4,
    // then (seq delta, key, value, expiresAt, version) x 2, crc
    const data = await collect(h.store.beginSnapshot());
    const bucket = [...uvarint(bucketOf('b')), 4]; // the deleted key's bucket, deleted at index 4
    expect(data).toEqual(image([4, 4, 2, 1, ...bucket, 0, 0xac, 0x02, 4, 1, 1, 97, 1, 49, 0, 1, 2, 1, 99, 1, 51, 0, 3]));
    expect(await snapshotImageProblem(data)).toBeUndefined();
  });

  it('rejects seqs that do not ascend or reach nextSeq, and a nextSeq below the key count', async () => {
    const h = new Harness();
    const ok = image([4, 9, 2, 0, 0, 0, 5, 1, 1, 97, 1, 49, 0, 1, 3, 1, 98, 1, 50, 0, 1]);
    expect(await h.store.restore(ok)).toBe(9);
    expect(h.store.scan(1, { count: 10 }, 0)).toEqual({ cursor: 0, keys: [b('b')] });
    const zeroDelta = image([4, 9, 2, 0, 0, 0, 5, 1, 1, 97, 1, 49, 0, 1, 0, 1, 98, 1, 50, 0, 1]);
    await expect(h.store.restore(zeroDelta)).rejects.toThrow(SnapshotFormatError);
    const pastNext = image([4, 9, 2, 0, 0, 0, 5, 1, 1, 97, 1, 49, 0, 1, 4, 1, 98, 1, 50, 0, 1]);
    await expect(h.store.restore(pastNext)).rejects.toThrow(SnapshotFormatError);
    const lowNext = image([4, 9, 2, 0, 0, 0, 2, 1, 1, 97, 1, 49, 0, 1, 1, 1, 98, 1, 50, 0, 1]);
    await expect(h.store.restore(lowNext)).rejects.toThrow(SnapshotFormatError);
    // The failed restores left the good state.
    expect(h.store.scan(0, { count: 10 }, 0).keys).toEqual([b('a'), b('b')]);
  });

  it('older formats still load, their keys numbered 1..count', async () => {
    const h = new Harness();
    // FORMAT 3: index 9, 2 keys, no buckets, no settings, ts 0, records without seqs.
    await h.store.restore(image([3, 9, 2, 0, 0, 0, 1, 97, 1, 49, 0, 1, 1, 98, 1, 50, 0, 1]));
    expect(h.store.scan(1, { count: 10 }, 0)).toEqual({ cursor: 0, keys: [b('b')] });
  });
});
