import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/kv/prng.ts';
import type { HistoryOp, RegisterValue } from './history.ts';
import { checkLinearizability, formatCounterexample } from './linearizability.ts';

// Compact builders: [call, return] in arbitrary time units.
const w = (c: number, v: RegisterValue, call: number, ret: number, key = 'k'): HistoryOp => ({
  clientId: c,
  key,
  op: 'write',
  input: v,
  call,
  return: ret,
  status: 'ok',
});
const r = (c: number, out: RegisterValue, call: number, ret: number, key = 'k'): HistoryOp => ({
  clientId: c,
  key,
  op: 'read',
  output: out,
  call,
  return: ret,
  status: 'ok',
});
const cas = (c: number, expect: RegisterValue, value: RegisterValue, swapped: boolean, call: number, ret: number): HistoryOp => ({
  clientId: c,
  key: 'k',
  op: 'cas',
  input: { expect, value },
  output: swapped,
  call,
  return: ret,
  status: 'ok',
});
const status = (op: HistoryOp, s: 'info' | 'fail'): HistoryOp => ({ ...op, status: s });

describe('linearizability checker: hand-built histories', () => {
  it('accepts the empty history and a sequential one', () => {
    expect(checkLinearizability([]).ok).toBe(true);
    const h = [w(1, 'a', 0, 1), r(2, 'a', 2, 3), w(1, 'b', 4, 5), r(2, 'b', 6, 7), w(3, null, 8, 9), r(1, null, 10, 11)];
    expect(checkLinearizability(h)).toMatchObject({ ok: true, keys: 1, ops: 6 });
  });

  it('accepts a read that overlaps a write seeing either value', () => {
    expect(checkLinearizability([w(1, 'a', 0, 10), r(2, 'a', 1, 2)]).ok).toBe(true);
    expect(checkLinearizability([w(1, 'a', 0, 10), r(2, null, 1, 2)]).ok).toBe(true);
    // Touching intervals count as concurrent.
    expect(checkLinearizability([w(1, 'a', 0, 5), r(2, null, 5, 6)]).ok).toBe(true);
  });

  it('needs backtracking: overlapping writes ordered by later reads', () => {
    const h = [w(1, 'a', 0, 10), w(2, 'b', 0, 10), r(3, 'b', 1, 11), r(3, 'a', 12, 13)];
    // b then a: read b sees b, read a after both.
    expect(checkLinearizability(h).ok).toBe(true);
    const bad = [...h, r(4, 'b', 14, 15)];
    expect(checkLinearizability(bad).ok).toBe(false);
  });

  it('rejects a stale read and reports a three-operation witness', () => {
    const h = [
      w(1, '1', 0, 1),
      r(3, '1', 1.5, 1.8),
      w(2, '2', 2, 3),
      r(3, '2', 3.5, 3.8),
      w(4, 'x', 0, 100, 'other'),
      r(1, '1', 4, 5), // stale: '2' was written and read before this read began
      r(2, '2', 6, 7),
    ];
    const res = checkLinearizability(h);
    expect(res.ok).toBe(false);
    expect(res.key).toBe('k');
    const c = res.counterexample!;
    // Reads that are not needed are gone; both writes must stay definite.
    expect(c.ops.map((o) => `${o.op}:${o.op === 'read' || o.op === 'incr' ? o.output : o.input}:${o.status}`).sort()).toEqual([
      'read:1:ok',
      'write:1:ok',
      'write:2:ok',
    ]);
    expect(c.stuck).toMatchObject({ op: 'read', output: '1' });
    expect(c.partial.map((s) => s.after)).toEqual(['1', '2']);
    expect(formatCounterexample(c)).toContain('stuck: no legal place for c1 read k -> "1" ok [4, 5]');
  });

  it('rejects a lost acknowledged write', () => {
    const h = [w(1, 'a', 0, 1), r(2, 'a', 2, 3), w(1, 'b', 4, 5), r(2, 'a', 6, 7), r(3, 'b', 8, 9)];
    const res = checkLinearizability(h);
    expect(res.ok).toBe(false);
    expect(res.counterexample!.stuck).toMatchObject({ op: 'read', output: 'a', call: 6 });
  });

  it('rejects a read of a value nobody wrote, and of a write that definitely failed', () => {
    expect(checkLinearizability([r(1, 'ghost', 0, 1)]).ok).toBe(false);
    const failed = [status(w(1, 'a', 0, 1), 'fail'), r(2, 'a', 2, 3)];
    const res = checkLinearizability(failed);
    expect(res).toMatchObject({ ok: false, ops: 1 });
    expect(res.counterexample!.ops).toHaveLength(1);
  });

  it('lets an indeterminate write take effect at any point after its call, or never', () => {
    const info = status(w(1, 'x', 5, 6), 'info');
    expect(checkLinearizability([info]).ok).toBe(true);
    expect(checkLinearizability([info, r(2, null, 7, 8)]).ok).toBe(true); // never happened
    expect(checkLinearizability([info, r(2, 'x', 1000, 1001)]).ok).toBe(true); // happened late
    expect(checkLinearizability([info, r(2, null, 7, 8), r(2, 'x', 9, 10)]).ok).toBe(true);
    // It cannot take effect before it was called ...
    expect(checkLinearizability([r(2, 'x', 0, 1), info]).ok).toBe(false);
    // ... nor take effect and then un-happen.
    expect(checkLinearizability([info, r(2, 'x', 7, 8), r(2, null, 9, 10)]).ok).toBe(false);
    // An indeterminate read constrains nothing.
    expect(checkLinearizability([status(r(3, 'nonsense', 0, 1), 'info')]).ok).toBe(true);
  });

  it('keeps indeterminate writes that are observed, even when another write follows', () => {
    const h = [w(1, 'a', 0, 1), status(w(2, 'b', 2, 3), 'info'), w(1, 'c', 4, 5), r(3, 'b', 6, 7)];
    // 'b' would have to land after 'c' was acknowledged: legal, since the info write never returned.
    expect(checkLinearizability(h).ok).toBe(true);
    const afterRead = [...h, r(3, 'c', 8, 9)];
    expect(checkLinearizability(afterRead).ok).toBe(false);
  });

  it('never forces indeterminate writes to happen (found by the simulator, seed 48)', () => {
    const info = (c: number, v: string, call: number) => status(w(c, v, call, call), 'info');
    const h = [info(1, 'a', 13), info(2, 'b', 40), info(2, 'c', 104), info(2, 'd', 128), info(1, 'e', 132)];
    // A failed CAS expecting 'd' is legal whether or not any of them took effect.
    expect(checkLinearizability([...h, cas(2, 'd', 'x', false, 173, 174)]).ok).toBe(true);
    expect(checkLinearizability([...h, r(3, 'd', 150, 151), cas(2, 'd', 'x', false, 173, 174)]).ok).toBe(true);
    expect(checkLinearizability([...h, r(3, 'd', 150, 151), cas(2, 'd', 'x', true, 173, 174), r(3, 'd', 180, 181)]).ok).toBe(false);
  });

  it('models compare-and-set', () => {
    const ok = [w(1, 'a', 0, 1), cas(2, 'a', 'b', true, 2, 3), cas(3, 'a', 'c', false, 4, 5), r(1, 'b', 6, 7)];
    expect(checkLinearizability(ok).ok).toBe(true);
    expect(checkLinearizability([w(1, 'a', 0, 1), cas(2, 'z', 'b', true, 2, 3)]).ok).toBe(false);
    expect(checkLinearizability([w(1, 'a', 0, 1), cas(2, 'a', 'b', false, 2, 3)]).ok).toBe(false);
    // Two concurrent CAS from the same value cannot both succeed.
    const both = [w(1, 'a', 0, 1), cas(2, 'a', 'b', true, 2, 5), cas(3, 'a', 'c', true, 2, 5)];
    expect(checkLinearizability(both).ok).toBe(false);
    // An indeterminate CAS may or may not have swapped.
    const maybe = status(cas(2, 'a', 'b', false, 2, 3), 'info');
    expect(checkLinearizability([w(1, 'a', 0, 1), maybe, r(3, 'b', 4, 5)]).ok).toBe(true);
    expect(checkLinearizability([w(1, 'a', 0, 1), maybe, r(3, 'a', 4, 5)]).ok).toBe(true);
  });

  it('models INCR: integers (absent is 0) gain one, anything else is an error', () => {
    const incr = (c: number, out: number | 'error' | undefined, call: number, ret: number): HistoryOp =>
      out === undefined
        ? { clientId: c, key: 'k', op: 'incr', call, return: 0, status: 'info' }
        : { clientId: c, key: 'k', op: 'incr', output: out, call, return: ret, status: 'ok' };
    expect(checkLinearizability([incr(1, 1, 1, 2), incr(2, 2, 3, 4), r(1, '2', 5, 6)]).ok).toBe(true);
    // Two INCRs answered 1: one of them was lost.
    expect(checkLinearizability([incr(1, 1, 1, 2), incr(2, 1, 3, 4)]).ok).toBe(false);
    // Concurrent INCRs may finish in either order.
    expect(checkLinearizability([incr(1, 2, 1, 4), incr(2, 1, 2, 3)]).ok).toBe(true);
    expect(checkLinearizability([w(1, 'a', 1, 2), incr(2, 'error', 3, 4), r(1, 'a', 5, 6)]).ok).toBe(true);
    expect(checkLinearizability([w(1, 'a', 1, 2), incr(2, 1, 3, 4)]).ok).toBe(false);
    // Indeterminate INCRs may or may not have happened, in any number: 40 of them stay cheap.
    const many: HistoryOp[] = [];
    for (let i = 0; i < 40; i++) many.push(incr(i, undefined, i + 1, 0));
    many.push(r(99, '17', 100, 101), incr(98, 25, 102, 103), r(99, '25', 104, 105));
    expect(checkLinearizability(many).ok).toBe(true);
    many.push(r(99, '24', 106, 107));
    expect(checkLinearizability(many).ok).toBe(false);
  });

  it('checks keys independently and honours initial values', () => {
    const h = [w(1, 'a', 0, 1, 'x'), r(2, 'a', 2, 3, 'x'), r(1, 'seed', 0, 1, 'y')];
    expect(checkLinearizability(h)).toMatchObject({ ok: false, key: 'y', keys: 2 });
    expect(checkLinearizability(h, { initial: (k) => (k === 'y' ? 'seed' : null) }).ok).toBe(true);
  });

  it('rejects a history whose operation returns before its call', () => {
    expect(() => checkLinearizability([w(1, 'a', 5, 4)])).toThrow(RangeError);
  });
});

/**
 * A history of `perKey` operations on each key from `clients` concurrent clients against a real
 * atomic register: every operation takes effect at a random instant inside its interval, so the
 * history is linearizable by construction. Some writes are indeterminate and may never happen.
 */
function generate(seed: number, keys: string[], perKey: number, clients: number, infoRate = 0.05): HistoryOp[] {
  const rand = mulberry32(seed);
  const history: HistoryOp[] = [];
  for (const key of keys) {
    const pending: { at: number; op: HistoryOp; effect: boolean }[] = [];
    const clock = new Array<number>(clients).fill(0);
    for (let n = 0; n < perKey; n++) {
      const c = n % clients;
      const call = clock[c] + rand() * 3;
      const ret = call + 0.5 + rand() * 20;
      clock[c] = ret;
      const at = call + (ret - call) * rand();
      const roll = rand();
      if (roll < 0.45) {
        pending.push({ at, op: { clientId: c, key, op: 'read', call, return: ret, status: 'ok' }, effect: true });
      } else if (roll < 0.55) {
        const input = { expect: rand() < 0.5 ? `v${n - 1}` : `v${n - 7}`, value: `v${n}` };
        pending.push({ at, op: { clientId: c, key, op: 'cas', input, call, return: ret, status: 'ok' }, effect: true });
      } else {
        const info = rand() < infoRate;
        const op: HistoryOp = { clientId: c, key, op: 'write', input: `v${n}`, call, return: ret, status: info ? 'info' : 'ok' };
        pending.push({ at, op, effect: !info || rand() < 0.5 });
      }
    }
    pending.sort((a, b) => a.at - b.at);
    let value: RegisterValue = null;
    for (const p of pending) {
      const op = p.op;
      if (op.op === 'read') op.output = value;
      else if (op.op === 'write') {
        if (p.effect) value = op.input;
      } else if (op.op === 'cas') {
        op.output = value === op.input.expect;
        if (op.output) value = op.input.value;
      }
      history.push(op);
    }
  }
  return history;
}

describe('linearizability checker: performance', () => {
  it('checks thousands of concurrent operations per key quickly', () => {
    const h = generate(7, ['a', 'b', 'c'], 4000, 6);
    const started = performance.now();
    const res = checkLinearizability(h);
    const ms = performance.now() - started;
    expect(res).toMatchObject({ ok: true, keys: 3, ops: 12_000 });
    expect(ms).toBeLessThan(3000);
  });

  it('finds and shrinks a single stale read buried in a thousand operations', () => {
    const h = generate(11, ['a'], 1000, 5, 0.02);
    // Make a read in the middle return a value that was overwritten long before it began.
    const late = h.find((o) => o.op === 'read' && o.call > h[500].call && o.output !== null)!;
    const old = h.find((o) => o.op === 'write' && o.status === 'ok' && o.return < late.call - 200)!;
    if (late.op !== 'read' || old.op !== 'write') throw new Error('generator changed');
    late.output = old.input;
    const started = performance.now();
    const res = checkLinearizability(h);
    const ms = performance.now() - started;
    expect(res.ok).toBe(false);
    const c = res.counterexample!;
    expect(c.stuck).toBe(late);
    // The witness: the stale read, the write it saw, and the write that overwrote it.
    expect(c.ops).toHaveLength(3);
    expect(c.ops).toContain(late);
    expect(c.ops).toContainEqual(old);
    expect(ms).toBeLessThan(15_000);
  });
});
