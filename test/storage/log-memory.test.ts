/**
 * The log's memory tail (memory-log.ts trim, log-readback.ts), on a real LevelDB: applied,
 * durable entries past the tail leave memory, keep their terms and sizes, and come back from
 * disk byte for byte when a trailing follower needs them.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { entrySize } from '../../src/raft/index.ts';
import { CompactedError, EntriesNotLoadedError, type Entry } from '../../src/raft/types.ts';
import { InvalidWriteError, type LevelStorage } from '../../src/storage/index.ts';
import { conf, ent, openStore, removeTmpDirs, tmpDir } from './helpers.ts';

const open: LevelStorage[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await removeTmpDirs();
});

const ALL = Number.POSITIVE_INFINITY;

/** 300 entries in terms 1, 2 and 5 (runs of 100), each with its own random payload. */
function history(): Entry[] {
  return Array.from({ length: 300 }, (_, k) => ent(k + 1, k < 100 ? 1 : k < 200 ? 2 : 5, randomBytes(1 + (k % 50))));
}

async function stored(entries: Entry[]): Promise<LevelStorage> {
  const s = await openStore(await tmpDir());
  open.push(s);
  await s.save({ entries, hardState: { term: 5, vote: '', commit: entries.length } });
  return s;
}

/** entries(lo, hi), reading back from disk as the core would: ask, and ask again later. */
async function readAll(s: LevelStorage, lo: number, hi: number): Promise<Entry[]> {
  const out: Entry[] = [];
  let refusals = 0;
  while (lo < hi) {
    try {
      const got = s.entries(lo, hi, ALL);
      out.push(...got);
      lo = got[got.length - 1].index + 1;
    } catch (err) {
      if (!(err instanceof EntriesNotLoadedError)) throw err;
      refusals++;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  if (refusals === 0) throw new Error('nothing was read back from disk');
  return out;
}

const same = (a: Entry[], b: Entry[]) => a.map((e, k) => [e.index, e.term, e.type, Buffer.from(e.data).equals(b[k].data)]);

describe('the log memory tail', () => {
  it('moves applied entries out of memory past the tail, keeping every term and size', async () => {
    const h = history();
    const s = await stored(h);
    s.trim(300, undefined, 40, 1 << 20);
    const { memory } = s.stats();
    // Past 40 in memory it trims to three quarters of the tail: 30 stay.
    expect(memory).toEqual({ entries: 30, evicted: 270, bytes: h.slice(270).reduce((n, e) => n + entrySize(e), 0) });
    for (const e of h) expect(s.term(e.index), `term(${e.index})`).toBe(e.term);
    expect(s.entrySizes(1, 301)).toEqual(h.map(entrySize));
    expect(s.stats().bytes).toBe(h.reduce((n, e) => n + entrySize(e), 0));
    expect(() => s.entries(10, 20, ALL)).toThrow(EntriesNotLoadedError);
    // In memory: no disk read.
    expect(s.entries(271, 301, ALL).map((e) => e.index)).toEqual(h.slice(270).map((e) => e.index));
  });

  it('reads them back from disk byte for byte, across the boundary into memory', async () => {
    const h = history();
    const s = await stored(h);
    s.trim(300, undefined, 40, 1 << 20);
    const got = await readAll(s, 7, 301);
    expect(got).toHaveLength(294);
    expect(same(got, h.slice(6))).toEqual(same(h.slice(6), h.slice(6)));
  });

  it('bounds the tail by bytes too', async () => {
    const h = history();
    const s = await stored(h);
    s.trim(300, undefined, 1000, 2000);
    const { memory } = s.stats();
    expect(memory.bytes).toBeLessThanOrEqual(1500);
    expect(memory.bytes + h[299 - memory.entries].data.length + 16).toBeGreaterThan(1500);
  });

  it('keeps what is not applied, and what is not durable yet', async () => {
    const h = history();
    const s = await stored(h.slice(0, 100));
    // Applied only to 50: entries 51..100 stay whatever the tail.
    s.trim(50, undefined, 0, 0);
    expect(s.stats().memory).toMatchObject({ entries: 50, evicted: 50 });
    const pending = s.save({ entries: h.slice(100, 200), hardState: { term: 2, vote: '', commit: 200 } });
    // 51..100 are durable and now applied; 101..200 not durable yet.
    s.trim(200, undefined, 0, 0);
    expect(s.stats().memory).toMatchObject({ entries: 100, evicted: 100 });
    await pending;
    s.trim(200, undefined, 0, 0);
    expect(s.stats().memory).toMatchObject({ entries: 0, evicted: 200 });
    expect(s.term(200)).toBe(2);
  });

  it('compaction and a received snapshot forget out-of-memory entries', async () => {
    const h = history();
    const s = await stored(h);
    s.trim(300, undefined, 40, 1 << 20);
    await s.createSnapshot(250, conf, new Uint8Array([1]));
    await s.compact(120);
    expect(s.firstIndex()).toBe(121);
    expect(s.term(120)).toBe(2);
    expect(() => s.term(119)).toThrow(CompactedError);
    expect(s.stats().bytes).toBe(h.slice(120).reduce((n, e) => n + entrySize(e), 0));
    expect(same(await readAll(s, 121, 301), h.slice(120))).toEqual(same(h.slice(120), h.slice(120)));
    // A snapshot the log matches at 280 (past the memory boundary at 270): the rest stays.
    await s.save({ snapshot: { meta: { index: 280, term: 5, conf }, data: new Uint8Array([2]) } });
    expect(s.firstIndex()).toBe(281);
    expect(s.stats()).toMatchObject({ entries: 20, memory: { entries: 20, evicted: 0 } });
    expect(s.stats().bytes).toBe(h.slice(280).reduce((n, e) => n + entrySize(e), 0));
  });

  it('on a leader, keeps what a follower still lacks, up to four times the tail', async () => {
    const h = history();
    const s = await stored(h);
    // A follower has everything up to 250: 251..300 stay whatever the tail says.
    s.trim(300, 251, 10, 1 << 20);
    expect(s.stats().memory).toMatchObject({ entries: 50, evicted: 250 });
    // One that lacks everything from 2 on is held only while the log in memory is within 4x the
    // tail's bytes: here it is not, so it is served from disk.
    const t = await stored(h);
    const bytes = t.stats().memory.bytes;
    t.trim(300, 2, 10, Math.floor(bytes / 4) - 1);
    expect(t.stats().memory.evicted).toBeGreaterThan(0);
    const u = await stored(h);
    u.trim(300, 2, 10, Math.ceil(bytes / 4));
    expect(u.stats().memory).toMatchObject({ entries: 299, evicted: 1 });
  });

  it('refuses to overwrite an entry out of memory (only applied ones leave, and Raft never rewrites those)', async () => {
    const s = await stored(history());
    s.trim(300, undefined, 40, 1 << 20);
    await expect(s.save({ entries: [ent(200, 6)] })).rejects.toThrow(InvalidWriteError);
    expect(s.term(200)).toBe(2);
  });

  it('comes back whole after a reopen', async () => {
    const h = history();
    const s = await stored(h);
    s.trim(300, undefined, 40, 1 << 20);
    const dir = s.dir;
    open.splice(open.indexOf(s), 1);
    await s.close();
    const again = await openStore(dir);
    open.push(again);
    const got = again.entries(1, 301, ALL);
    expect(same(got, h)).toEqual(same(h, h));
  });
});
