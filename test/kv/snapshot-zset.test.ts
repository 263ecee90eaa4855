/**
 * A 1M-member sorted set (issue 14: "the stall stays at most 50 ms per slice with a 1M-member
 * sorted set"): a snapshot streamed straight into a restore while a timer keeps writing to that
 * very sorted set every millisecond, as snapshot-hash.test.ts does with a 200k-field hash. The
 * members go out in pieces across chunks and come back RESTORE_SLICE at a time, so no slice of
 * work holds the event loop for 50 ms (the loop thread's on-CPU time between two turns of a
 * 1 ms timer); the first write during the snapshot copies its position arrays once, and the
 * copy shows the sorted set as of the snapshot, nothing later.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/cli/runtime.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { KvStore } from '../../src/kv/store.ts';
import { measureLoopStall } from '../support/loop-stall.ts';
import { rng } from './harness.ts';

const MEMBERS = 1_000_000;
const MAX_STALL_MS = 50;
const KEY = Buffer.from('big');
const member = (i: number) => Buffer.from(`member:${String(i).padStart(8, '0')}`);
/** Scores that are not in member order, with ties, so the tree's order is its own. */
const score = (i: number) => (i * 7919) % 100_003;

describe('snapshot of a 1M-member sorted set', () => {
  it('streams into a restore without stalling the loop while the sorted set changes, and the copy is the set as it was', async () => {
    expect(process.execArgv).toEqual(expect.arrayContaining([...NODE_FLAGS]));
    const source = new KvStore();
    let index = 0;
    for (let i = 0; i < MEMBERS; i += 1000) {
      const pairs: [Buffer, Buffer][] = [];
      for (let j = i; j < i + 1000; j++) pairs.push([Buffer.from(String(score(j))), member(j)]);
      source.apply({ ts: 1, ops: [{ type: 'zadd', key: KEY, pairs }] }, ++index);
    }
    source.apply({ ts: 1, ops: [{ type: 'set', key: Buffer.from('after'), value: Buffer.from('x') }] }, ++index);
    const read = (s: KvStore, op: KvOp) => s.readCollection(op, 1, Math.random);
    const zscore = (s: KvStore, i: number) => read(s, { type: 'zscore', key: KEY, member: member(i) });
    const bytes = source.usedMemory();

    const r = rng(7);
    const changed = new Set<number>();
    let writes = 0;
    const copy = new KvStore();
    let restoredIndex = 0;
    const t0 = performance.now();
    const stall = await measureLoopStall(
      async () => {
        restoredIndex = await copy.restore(source.beginSnapshot());
      },
      () => {
        const i = Math.floor(r() * MEMBERS);
        const op: KvOp = r() < 0.5 ? { type: 'zrem', key: KEY, members: [member(i)] } : { type: 'zadd', key: KEY, pairs: [[Buffer.from('-5.5'), member(i)]] };
        source.apply({ ts: 2, ops: [op] }, ++index);
        changed.add(i);
        writes++;
      },
    );
    const totalMs = performance.now() - t0;
    console.log(
      `1M-member sorted set snapshot->restore: ${totalMs.toFixed(0)} ms, ${writes} concurrent writes to it, longest synchronous slice ` +
        `${stall.longestSliceMs.toFixed(1)} ms, monitorEventLoopDelay max ${stall.delayMaxMs.toFixed(1)} ms`,
    );
    expect(stall.longestSliceMs).toBeLessThan(MAX_STALL_MS);
    expect(writes).toBeGreaterThan(20);
    expect(restoredIndex).toBe(MEMBERS / 1000 + 1);
    expect(copy.usedMemory()).toBe(bytes);
    expect(read(copy, { type: 'zcard', key: KEY })).toEqual({ type: 'int', value: MEMBERS });
    expect(read(copy, { type: 'encoding', key: KEY })).toEqual({ type: 'bulk', value: Buffer.from('skiplist') });
    for (const i of changed) expect(zscore(copy, i)).toEqual({ type: 'bulk', value: Buffer.from(String(score(i))) });
    for (let s = 0; s < 1000; s++) {
      const i = Math.floor(r() * MEMBERS);
      expect(zscore(copy, i)).toEqual({ type: 'bulk', value: Buffer.from(String(score(i))) });
    }
    // Ranks agree with the order the scores imply: the lowest is the first member of score 0.
    expect(read(copy, { type: 'zrank', key: KEY, member: member(0) })).toEqual({ type: 'int', value: 0 });
    expect(read(copy, { type: 'zcount', key: KEY, min: Buffer.from('0'), max: Buffer.from('(100') })).toEqual({ type: 'int', value: countBelow(100) });
  }, 300_000);
});

/** Members i < MEMBERS with score(i) < bound. */
function countBelow(bound: number): number {
  let n = 0;
  for (let i = 0; i < MEMBERS; i++) if (score(i) < bound) n++;
  return n;
}
