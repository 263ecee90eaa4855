/**
 * Group commit: the writes of one synchronous stretch share one fsynced LevelDB batch, writes that
 * arrive while a batch is in flight share the next one, and no promise resolves before its batch
 * is durable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StorageFailedError } from '../../src/storage/errors.ts';
import type { LevelStorage } from '../../src/storage/index.ts';
import { type WriteOp, WriteQueue } from '../../src/storage/write-queue.ts';
import { ent, observe, openStore, removeTmpDirs, reopen, tmpDir } from './helpers.ts';

const stores: LevelStorage[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await removeTmpDirs();
});

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

async function store(): Promise<LevelStorage> {
  const s = await openStore(await tmpDir());
  stores.push(s);
  return s;
}

describe('LevelStorage group commit', () => {
  it('N saves issued in one turn are one LevelDB batch, and each resolves only after it', async () => {
    const s = await store();
    const before = s.stats().batches;
    const n = 64;
    const batchesSeenAtResolve: number[] = [];
    const saves = Array.from({ length: n }, (_, i) =>
      s
        .save({ entries: [ent(i + 1, 1, new Uint8Array([i]))], hardState: { term: 1, vote: 'n1', commit: 0 } })
        .then(() => batchesSeenAtResolve.push(s.stats().batches)),
    );
    expect(s.lastIndex()).toBe(n); // visible to readers at once
    await Promise.all(saves);
    expect(s.stats().batches - before).toBe(1);
    expect(batchesSeenAtResolve).toEqual(Array(n).fill(before + 1));
    stores[0] = await reopen(s);
    expect(stores[0].lastIndex()).toBe(n);
  });

  it('saves made while a batch is being fsynced share the next batch, in order', async () => {
    const s = await store();
    const before = s.stats().batches;
    const first = Array.from({ length: 10 }, (_, i) => s.save({ entries: [ent(i + 1, 1)] }));
    await nextTurn(); // the first batch is now in flight on the thread pool
    const second = [
      s.save({ entries: [ent(11, 1)] }),
      s.save({ entries: [ent(5, 2)] }), // a new leader's entry truncates 6..11
      s.save({ entries: [ent(6, 2)], hardState: { term: 2, vote: 'n2', commit: 4 } }),
    ];
    await Promise.all([...first, ...second]);
    expect(s.stats().batches - before).toBe(2);
    expect([s.lastIndex(), s.term(5), s.term(6)]).toEqual([6, 2, 2]);
    // The second batch truncated what the first wrote: the disk agrees with memory.
    stores[0] = await reopen(s);
    expect((await observe(stores[0])).entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
      [5, 2],
      [6, 2],
    ]);
  });

  it('writes an unsynced save (only the commit index moved) in order, and reads it back after a restart', async () => {
    const s = await store();
    await s.save({ entries: [ent(1, 1)], hardState: { term: 1, vote: 'n1', commit: 0 } });
    await s.save({ hardState: { term: 1, vote: 'n1', commit: 1 } }, false);
    stores.splice(stores.indexOf(s), 1);
    const again = await reopen(s);
    stores.push(again);
    expect(again.initialState().hardState.commit).toBe(1);
  });

  it('saves awaited one by one are one batch each', async () => {
    const s = await store();
    const before = s.stats().batches;
    for (let i = 1; i <= 5; i++) await s.save({ entries: [ent(i, 1)] });
    expect(s.stats().batches - before).toBe(5);
  });
});

describe('WriteQueue', () => {
  type Call = { ops: number; sync: boolean; finish: (err?: Error) => void };

  function fakeSink() {
    const calls: Call[] = [];
    const sink = {
      write: (ops: WriteOp[], sync: boolean) =>
        new Promise<void>((resolve, reject) => calls.push({ ops: ops.length, sync, finish: (err) => (err ? reject(err) : resolve()) })),
      written: () => {},
      failed: (err: unknown) => new StorageFailedError('/data', err),
    };
    return { calls, queue: new WriteQueue(sink) };
  }
  const op = (k: number): WriteOp => ({ type: 'del', key: Buffer.from([k]) });

  it('keeps one batch in flight and gathers everything else into the next', async () => {
    const { calls, queue } = fakeSink();
    const settled: string[] = [];
    const a = queue.push([op(1)]).then(() => settled.push('a'));
    const b = queue.push([op(2), op(3)]).then(() => settled.push('b'));
    await nextTurn();
    expect(calls.map((c) => c.ops)).toEqual([3]);
    const c = queue.push([op(4)]).then(() => settled.push('c'));
    await nextTurn();
    const d = queue.push([op(5)]).then(() => settled.push('d'));
    await nextTurn();
    expect(calls.map((c) => c.ops)).toEqual([3]); // still one in flight
    expect(settled).toEqual([]);
    calls[0].finish();
    await Promise.all([a, b]);
    await nextTurn();
    expect(calls.map((c) => c.ops)).toEqual([3, 2]);
    expect(settled).toEqual(['a', 'b']);
    calls[1].finish();
    await Promise.all([c, d]);
    expect(settled).toEqual(['a', 'b', 'c', 'd']);
  });

  it('writes pushAlone groups as batches of their own, in queue order, built only when their turn comes', async () => {
    const { calls, queue } = fakeSink();
    const built: number[] = [];
    const alone =
      (...ks: number[]) =>
      () => {
        built.push(ks[0]);
        return ks.map(op);
      };
    const all = [queue.push([op(1)]), queue.pushAlone(alone(2, 3)), queue.pushAlone(alone(4)), queue.push([op(5)]), queue.push([op(6)])];
    for (let i = 0; i < 4; i++) {
      while (calls.length <= i) await nextTurn();
      expect(built).toEqual([2, 4].slice(0, Math.min(i, 2)));
      calls[i].finish();
    }
    await Promise.all(all);
    expect(calls.map((c) => c.ops)).toEqual([1, 2, 1, 2]);
  });

  it('a failed batch fails every pending and later write', async () => {
    const { calls, queue } = fakeSink();
    const a = queue.push([op(1)]);
    await nextTurn();
    const b = queue.push([op(2)]);
    calls[0].finish(new Error('No space left on device'));
    await expect(a).rejects.toThrow(StorageFailedError);
    await expect(b).rejects.toThrow(/No space left on device/);
    await expect(queue.push([op(3)])).rejects.toThrow(StorageFailedError);
    expect(queue.failedWith()).toBeInstanceOf(StorageFailedError);
    expect(calls).toHaveLength(1);
  });

  it('skips the fsync only for a batch in which no write asked for one', async () => {
    const { calls, queue } = fakeSink();
    const a = queue.push([op(1)], false);
    await nextTurn();
    const b = queue.push([op(2)], false);
    const c = queue.push([op(3)]);
    calls[0].finish();
    await a;
    await nextTurn();
    calls[1].finish();
    await Promise.all([b, c]);
    expect(calls.map((x) => [x.ops, x.sync])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('drain resolves at once when nothing is queued, and after queued writes otherwise', async () => {
    const { calls, queue } = fakeSink();
    await queue.drain();
    const a = queue.push([op(1)]);
    let drained = false;
    const d = queue.drain().then(() => (drained = true));
    await nextTurn();
    expect(drained).toBe(false);
    calls[0].finish();
    await Promise.all([a, d]);
    expect(calls).toHaveLength(1);
  });
});
