/**
 * A 1M-key store (16-byte keys, 100-byte values) split in half: the SPLIT apply, the new group's
 * image streamed straight into its restore, and the cleanup entries, all while a timer applies
 * writes and DROP_UNOWNED entries to the parent every millisecond. Proves that no slice of that
 * work holds the event loop for 50 ms (measured as in snapshot-1m.test.ts: on-CPU time of the
 * loop thread between two turns of a 1 ms timer, so a loaded machine does not distort it), that
 * the child is the given-up half as of the split, and that cleanup brings the parent's memory
 * back to its own keys.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/cli/runtime.ts';
import { binarySlot } from '../../src/kv/slot.ts';
import { MAX_DROP_EXAMINED } from '../../src/kv/split.ts';
import { KvStore } from '../../src/kv/store.ts';
import { loopThreadCpuMs } from '../support/loop-stall.ts';
import { rng } from './harness.ts';
import { keyAt, loadKeys, MILLION, valueAt } from './million.ts';

const N = MILLION;
const MAX_STALL_MS = 50;
const SPLIT_AT = 8192;

const given = (i: number) => binarySlot(keyAt(i).toString('latin1')) >= SPLIT_AT;

describe('split of 1M keys', () => {
  it('splits, streams the child into its restore and cleans up without stalling the loop', async () => {
    expect(process.execArgv).toEqual(expect.arrayContaining([...NODE_FLAGS]));
    // As a group of a sharded node is made: counting keys per slot from the start.
    const parent = new KvStore({ countSlots: true });
    let index = loadKeys(parent, N);
    let givenCount = 0;
    for (let i = 0; i < N; i++) if (given(i)) givenCount++;
    expect(givenCount).toBeGreaterThan(0.45 * N);
    expect(givenCount).toBeLessThan(0.55 * N);

    // The writer: every millisecond, a write to an owned key (overwrite, delete, create) and a
    // cleanup step of MAX_DROP_EXAMINED places, as the leader would propose them.
    const r = rng(3);
    const overwritten = new Set<number>();
    let created = 0;
    let dropped = 0;
    let maxSliceMs = 0;
    let maxDropMs = 0;
    let lastCpu = loopThreadCpuMs();
    const tick = () => {
      maxSliceMs = Math.max(maxSliceMs, loopThreadCpuMs() - lastCpu);
      const i = Math.floor(r() * N);
      if (!given(i)) {
        if (r() < 0.5) parent.apply({ ts: 2, ops: [{ type: 'set', key: keyAt(i), value: Buffer.from('CHANGED') }] }, ++index);
        else parent.apply({ ts: 2, ops: [{ type: 'del', keys: [keyAt(i)] }] }, ++index);
        overwritten.add(i);
      } else {
        // A stale router's write to a given-up key: refused, never applied.
        expect(parent.apply({ ts: 2, ops: [{ type: 'set', key: keyAt(i), value: Buffer.from('LOST') }] }, ++index)[0].type).toBe('moved');
      }
      const key = Buffer.from(`new:${created++}`);
      if (binarySlot(key.toString('latin1')) < SPLIT_AT) parent.apply({ ts: 2, ops: [{ type: 'set', key, value: Buffer.from('NEW') }] }, ++index);
      const t = loopThreadCpuMs();
      const result = parent.apply({ ts: 2, ops: [{ type: 'dropUnowned', limit: MAX_DROP_EXAMINED }] }, ++index)[0];
      maxDropMs = Math.max(maxDropMs, loopThreadCpuMs() - t);
      if (result.type === 'int') dropped += Number(result.value);
      lastCpu = loopThreadCpuMs();
    };

    const cpu0 = loopThreadCpuMs();
    const result = parent.apply({ ts: 2, ops: [{ type: 'split', atSlot: SPLIT_AT, group: 2 }] }, ++index)[0];
    const splitCpuMs = loopThreadCpuMs() - cpu0;
    expect(result).toMatchObject({ type: 'split', slots: [SPLIT_AT, 16383] });
    const splitIndex = index;
    const image = parent.takeSplitImage(2)!;
    expect(image.keyCount).toBe(givenCount);
    expect(parent.unownedKeys).toBe(givenCount);

    const timer = setInterval(tick, 1);
    const t0 = performance.now();
    lastCpu = loopThreadCpuMs();
    const child = new KvStore();
    const restoredIndex = await child.restore(image);
    const streamMs = performance.now() - t0;
    // The rest of the cleanup, still on the timer.
    while (parent.cleanupPending > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    clearInterval(timer);

    console.log(
      `1M split: SPLIT apply ${splitCpuMs.toFixed(1)} ms CPU; child image of ${givenCount} keys streamed into its restore in ` +
        `${streamMs.toFixed(0)} ms wall, ${overwritten.size + created} concurrent writes; cleanup by ${MAX_DROP_EXAMINED}-seq ` +
        `steps, longest step ${maxDropMs.toFixed(1)} ms; longest synchronous slice ${maxSliceMs.toFixed(1)} ms`,
    );
    expect(splitCpuMs).toBeLessThan(MAX_STALL_MS);
    expect(maxSliceMs).toBeLessThan(MAX_STALL_MS);
    expect(maxDropMs).toBeLessThan(MAX_STALL_MS);
    expect(image.done).toBe(true);
    expect(overwritten.size).toBeGreaterThan(50);

    // The child: the given-up half as of the split, nothing written since.
    expect(restoredIndex).toBe(splitIndex);
    expect(child.ownedSlots).toEqual([[SPLIT_AT, 16383]]);
    expect(child.dbsize(1)).toBe(givenCount);
    expect(child.usedMemory()).toBe(givenCount * (16 + 100 + 200));
    for (let s = 0; s < 2000; s++) {
      const i = Math.floor(r() * N);
      expect(child.get(keyAt(i), 1)).toEqual(given(i) ? valueAt(i) : null);
      expect(child.ownsKey(keyAt(i))).toBe(given(i));
    }
    // The parent: cleanup dropped exactly the given-up keys; its memory is its own keys'.
    expect(dropped).toBe(givenCount);
    expect(parent.unownedKeys).toBe(0);
    let bytes = 0;
    for (const k of parent.keys(Buffer.from('*'), 1)) bytes += k.length + parent.get(k, 1)!.length + 200;
    expect(parent.size).toBe(parent.dbsize(1));
    expect(parent.usedMemory()).toBe(bytes);
  });
});
