/**
 * A 200k-element list (issue 14: the snapshot stall with a big collection), as
 * snapshot-hash.test.ts does a hash: a snapshot streamed straight into a restore while a timer
 * keeps pushing, popping and setting elements of that very list every millisecond. The list is
 * written in pieces across chunks and restored RESTORE_SLICE elements at a time, so no slice of
 * work holds the event loop for 50 ms (the loop thread's on-CPU time between two turns of a
 * 1 ms timer, support/loop-stall.ts); the first write during the snapshot copies the list's
 * chunks once (sharing the packed ones), and the copy is the list as of the snapshot, with the
 * same chunk shape and accounted bytes.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/cli/runtime.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { KvStore } from '../../src/kv/store.ts';
import { measureLoopStall } from '../support/loop-stall.ts';
import { rng } from './harness.ts';

const ELEMENTS = 200_000;
const MAX_STALL_MS = 50;
const KEY = Buffer.from('big');
/** The list's elements head first, one per line (a deep compare of 200k results takes minutes). */
function dump(s: KvStore): string {
  const r = s.readCollection({ type: 'lrange', key: KEY, start: 0, stop: -1 }, 1, Math.random);
  if (r?.type !== 'array') throw new Error(`LRANGE answered ${r?.type}`);
  return r.value.map((e) => (e.type === 'bulk' ? Buffer.from(e.value).toString('latin1') : `(${e.type})`)).join('\n');
}
const element = (i: number) => Buffer.from(`element:${String(i).padStart(8, '0')}:${'x'.repeat(40)}`);

describe('snapshot of a 200k-element list', () => {
  it('streams into a restore without stalling the loop while the list changes, and the copy is the list as it was', async () => {
    expect(process.execArgv).toEqual(expect.arrayContaining([...NODE_FLAGS]));
    const source = new KvStore();
    let index = 0;
    // Half pushed at the head, half at the tail: a first chunk that is not full.
    for (let i = 0; i < ELEMENTS / 2; i += 1000) {
      const elements: Buffer[] = [];
      for (let j = i; j < i + 1000; j++) elements.push(element(ELEMENTS / 2 - 1 - j));
      source.apply({ ts: 1, ops: [{ type: 'lpush', key: KEY, elements, left: true }] }, ++index);
    }
    for (let i = ELEMENTS / 2; i < ELEMENTS; i += 1000) {
      const elements: Buffer[] = [];
      for (let j = i; j < i + 1000; j++) elements.push(element(j));
      source.apply({ ts: 1, ops: [{ type: 'lpush', key: KEY, elements }] }, ++index);
    }
    source.apply({ ts: 1, ops: [{ type: 'lpop', key: KEY, left: true, count: 7 }] }, ++index);
    const snapshotIndex = index;
    const before = dump(source);
    const bytes = source.usedMemory();

    const r = rng(11);
    let writes = 0;
    const copy = new KvStore();
    let restoredIndex = 0;
    const t0 = performance.now();
    const stall = await measureLoopStall(
      async () => {
        restoredIndex = await copy.restore(source.beginSnapshot());
      },
      () => {
        const ops: KvOp[] = [
          { type: 'lpush', key: KEY, elements: [Buffer.from('NEW')], left: r() < 0.5 },
          { type: 'lpop', key: KEY, left: r() < 0.5 },
          { type: 'lset', key: KEY, index: Math.floor(r() * 1000), element: Buffer.from('CHANGED') },
        ];
        source.apply({ ts: 2, ops: [ops[Math.floor(r() * ops.length)]] }, ++index);
        writes++;
      },
    );
    const totalMs = performance.now() - t0;
    console.log(
      `200k-element list snapshot->restore: ${totalMs.toFixed(0)} ms, ${writes} concurrent writes to the list, longest synchronous slice ` +
        `${stall.longestSliceMs.toFixed(1)} ms, monitorEventLoopDelay max ${stall.delayMaxMs.toFixed(1)} ms`,
    );
    expect(stall.longestSliceMs).toBeLessThan(MAX_STALL_MS);
    expect(writes).toBeGreaterThan(20);
    expect(restoredIndex).toBe(snapshotIndex);
    expect(copy.usedMemory()).toBe(bytes);
    expect(dump(copy) === before).toBe(true);
    expect(dump(source) === before).toBe(false);
    expect(copy.readCollection({ type: 'llen', key: KEY }, 1, Math.random)).toEqual({ type: 'int', value: ELEMENTS - 7 });
  }, 120_000);
});
