/**
 * The "keys made ready" signal for blocking commands (issue 14): apply reports the blocked-on
 * keys it writes (KvStore.watchBlocked / takeReadied), whatever op writes them, and nothing
 * else; watching changes no result and no state, so replicas that watch nothing stay equal.
 */
import { describe, expect, it } from 'vitest';
import type { KvOp } from '../../src/kv/ops.ts';
import { b, Harness } from './harness.ts';

describe('keys made ready (blocking commands)', () => {
  it('reports the watched keys a write creates or changes, and nothing unwatched', () => {
    const h = new Harness();
    h.store.watchBlocked(new Set(['q', 'r']));
    expect(h.store.hasReadied).toBe(false);
    h.run({ type: 'sadd', key: b('other'), members: [b('x')] });
    expect(h.store.hasReadied).toBe(false);
    h.run({ type: 'sadd', key: b('q'), members: [b('x')] }); // creates q
    h.run({ type: 'sadd', key: b('q'), members: [b('y')] }); // changes q in place
    h.set('r', 'v'); // a string replaces r: still reported; the registry judges the type
    expect(h.store.hasReadied).toBe(true);
    expect(h.store.takeReadied()).toEqual(['q', 'q', 'r']);
    expect(h.store.takeReadied()).toEqual([]);
    // Keys written by a rename or a copy count too: they make their destination.
    h.run({ type: 'rename', key: b('other'), dest: b('q') });
    expect(h.store.takeReadied()).toEqual(['q']);
  });

  it('watching nothing reports nothing, and changes no result or state', () => {
    const watching = new Harness();
    const plain = new Harness();
    watching.store.watchBlocked(new Set(['k']));
    const ops: KvOp[] = [
      { type: 'sadd', key: b('k'), members: [b('a'), b('b')] },
      { type: 'spop', key: b('k'), count: 1 },
      { type: 'del', keys: [b('k')] },
    ];
    for (const op of ops) expect(watching.run(op)).toEqual(plain.run(op));
    expect(watching.store.takeReadied()).toEqual(['k', 'k']);
    watching.store.watchBlocked(null);
    watching.run({ type: 'sadd', key: b('k'), members: [b('c')] });
    expect(watching.store.hasReadied).toBe(false);
    expect(plain.store.hasReadied).toBe(false);
  });
});
