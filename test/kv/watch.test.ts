/** WATCH/EXEC: versions read on the leader, checked at apply time. */
import { describe, expect, it } from 'vitest';
import type { KvOp } from '../../src/kv/ops.ts';
import { b, collect, Harness } from './harness.ts';

function watchOf(h: Harness, ...keys: string[]) {
  return keys.map((k) => ({ key: b(k), version: h.store.version(b(k), h.ts) }));
}

const txn: KvOp[] = [
  { type: 'incrby', key: b('counter'), delta: 1n },
  { type: 'get', key: b('counter') },
];

describe('WATCH', () => {
  it('EXEC runs when the watched keys are unchanged', () => {
    const h = new Harness();
    h.set('w', 'v');
    const watch = watchOf(h, 'w', 'absent');
    h.set('unrelated', 'x');
    expect(h.exec(txn, watch)).toEqual([1, '1']);
  });

  it('a write to a watched key aborts the whole entry, with no effect', () => {
    const h = new Harness();
    h.set('w', 'v');
    const watch = watchOf(h, 'w');
    h.set('w', 'changed');
    expect(h.exec(txn, watch)).toEqual(['ABORTED']);
    expect(h.get('counter')).toBeNull();
  });

  it('creating, or creating then deleting, a watched absent key aborts', () => {
    const h = new Harness();
    const watch = watchOf(h, 'a');
    h.set('a', '1');
    expect(h.exec(txn, watch)).toEqual(['ABORTED']);
    const watch2 = watchOf(h, 'b');
    h.set('b', '1');
    h.run({ type: 'del', keys: [b('b')] });
    expect(h.exec(txn, watch2)).toEqual(['ABORTED']);
  });

  it('expiry changes, PERSIST and APPEND count as writes', () => {
    for (const op of [
      { type: 'pexpireat', key: b('w'), at: 1_800_000_000_000 },
      { type: 'append', key: b('w'), value: b('+') },
      { type: 'getex', key: b('w'), pxat: 1_800_000_000_000 },
    ] as KvOp[]) {
      const h = new Harness();
      h.set('w', 'v');
      const watch = watchOf(h, 'w');
      h.run(op);
      expect(h.exec(txn, watch)).toEqual(['ABORTED']);
    }
  });

  it('commands that change nothing do not abort (failed SET NX, reads, PERSIST without TTL)', () => {
    const h = new Harness();
    h.set('w', 'v');
    const watch = watchOf(h, 'w');
    h.set('w', 'x', { cond: 'nx' });
    h.run({ type: 'get', key: b('w') });
    h.run({ type: 'persist', key: b('w') });
    expect(h.exec(txn, watch)).toEqual([1, '1']);
  });

  it('a key live at WATCH that expires before EXEC aborts it (Redis 7)', () => {
    const h = new Harness();
    h.set('w', 'v', { pxat: h.ts + 50 });
    const watch = watchOf(h, 'w');
    h.ts += 50;
    expect(h.exec(txn, watch)).toEqual(['ABORTED']);
  });

  it('a key already expired at WATCH and reclaimed later is "no change" (Redis 7)', () => {
    const h = new Harness();
    h.set('w', 'v', { pxat: h.ts + 50 });
    h.ts += 60;
    const watch = watchOf(h, 'w');
    const [due] = h.store.expiredSample(h.ts, 1);
    h.run({ type: 'expireIf', key: due.key, at: due.expiresAt });
    expect(h.exec(txn, watch)).toEqual([1, '1']);
  });

  it('an absent key SET with a TTL that expires before EXEC aborts it (Redis touches the watch on the write)', () => {
    const h = new Harness();
    const watch = watchOf(h, 'w');
    h.set('w', 'v', { pxat: h.ts + 50 });
    h.ts += 50;
    expect(h.store.get(b('w'), h.ts)).toBeNull();
    expect(h.exec(txn, watch)).toEqual(['ABORTED']);
  });

  it('... however the expired key was reclaimed before EXEC (active expiry, a read)', () => {
    const reclaims: ((h: Harness) => void)[] = [
      (h) => {
        const [due] = h.store.expiredSample(h.ts, 1);
        expect(h.run({ type: 'expireIf', key: due.key, at: due.expiresAt })).toBe(1);
      },
      (h) => expect(h.run({ type: 'get', key: b('w') })).toBeNull(),
      (h) => expect(h.run({ type: 'exists', keys: [b('w')] })).toBe(0),
    ];
    for (const reclaim of reclaims) {
      const h = new Harness();
      const watch = watchOf(h, 'w');
      h.set('w', 'v', { pxat: h.ts + 50 });
      h.ts += 60;
      reclaim(h);
      expect(h.store.version(b('w'), h.ts)).toBe(watchOf(h, 'w')[0].version);
      expect(h.exec(txn, watch)).toEqual(['ABORTED']);
    }
  });

  it('every replica decides the same, whether it replayed the write or restored a snapshot before or after the reclaim', async () => {
    const h = new Harness();
    h.set('w', 'old');
    h.run({ type: 'del', keys: [b('w')] });
    const watch = watchOf(h, 'w');
    h.set('w', 'v', { pxat: h.ts + 50 });
    h.ts += 60;
    const expiredUnreclaimed = new Harness();
    expiredUnreclaimed.index = h.index;
    expiredUnreclaimed.ts = h.ts;
    await expiredUnreclaimed.store.restore(await collect(h.store.beginSnapshot()));
    h.run({ type: 'get', key: b('w') });
    const reclaimed = new Harness();
    reclaimed.index = h.index;
    reclaimed.ts = h.ts;
    await reclaimed.store.restore(await collect(h.store.beginSnapshot()));
    expiredUnreclaimed.run({ type: 'get', key: b('w') });
    for (const r of [h, expiredUnreclaimed, reclaimed]) expect(r.exec(txn, watch)).toEqual(['ABORTED']);
    // And a WATCH taken now, on the reclaimed key, is "no change" everywhere.
    const later = watchOf(h, 'w');
    for (const r of [h, expiredUnreclaimed, reclaimed]) expect(r.exec(txn, later)).toEqual([1, '1']);
  });

  it('eviction of a watched key aborts', () => {
    const h = new Harness();
    h.set('w', 'v');
    const watch = watchOf(h, 'w');
    h.run({ type: 'evict', keys: [b('w')] });
    expect(h.exec(txn, watch)).toEqual(['ABORTED']);
  });

  it('FLUSHALL aborts every watcher', () => {
    const h = new Harness();
    h.set('w', 'v');
    const watch = watchOf(h, 'w', 'absent');
    h.run({ type: 'flushall' });
    expect(h.exec(txn, watch)).toEqual(['ABORTED']);
  });

  it('versions survive a snapshot round trip', async () => {
    const h = new Harness();
    h.set('w', 'v');
    h.set('gone', 'v');
    h.run({ type: 'del', keys: [b('gone')] });
    const watch = watchOf(h, 'w', 'gone');
    const copy = new Harness();
    copy.index = h.index;
    await copy.store.restore(await collect(h.store.beginSnapshot()));
    expect(copy.exec(txn, watch)).toEqual([1, '1']);
    copy.set('gone', 'back');
    expect(copy.exec(txn, watch)).toEqual(['ABORTED']);
  });
});
