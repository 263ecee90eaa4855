import { describe, expect, it } from 'vitest';
import { checkCounter } from '../check/counter.ts';
import { history, op } from './ops.ts';

const incr = (v: number | null, call: number, ret: number, status: 'ok' | 'fail' | 'info' = 'ok') =>
  op('incr', 'c', status, call, ret, status === 'ok' ? { result: v } : {});
const get = (v: number | null, call: number, ret: number, final = false) => op('get', 'c', 'ok', call, ret, { result: v === null ? null : String(v), final });

describe('counter checker', () => {
  it('accepts concurrent increments whose final value counts acknowledged and some indeterminate ones', () => {
    const h = history(incr(1, 0, 10), incr(3, 5, 20), incr(2, 6, 15), incr(null, 7, 30, 'info'), incr(null, 8, 9, 'fail'), get(4, 40, 41, true));
    const r = checkCounter(h);
    expect(r.anomalies).toEqual([]);
    expect(r.stats).toMatchObject({ acknowledged: 3, indeterminate: 1, final: 4 });
  });

  it('flags a final value below the acknowledged increments as lost', () => {
    const r = checkCounter(history(incr(1, 0, 1), incr(2, 2, 3), incr(3, 4, 5), get(2, 10, 11, true)));
    expect(r.valid).toBe(false);
    expect(r.anomalies.map((a) => a.kind)).toContain('lost-increment');
  });

  it('flags more applied increments than were sent', () => {
    const r = checkCounter(history(incr(1, 0, 1), incr(null, 2, 3, 'info'), get(3, 10, 11, true)));
    expect(r.anomalies.map((a) => a.kind)).toContain('phantom-increment');
  });

  it('flags two increments that returned the same value', () => {
    const r = checkCounter(history(incr(1, 0, 5), incr(1, 1, 6), get(2, 10, 11, true)));
    expect(r.anomalies.map((a) => a.kind)).toEqual(['duplicate-increment']);
  });

  it('flags a value going backwards in real time (a stale read)', () => {
    const r = checkCounter(history(incr(1, 0, 1), incr(2, 2, 3), get(1, 5, 6), get(2, 10, 11, true)));
    expect(r.anomalies.map((a) => a.kind)).toEqual(['realtime']);
    expect(r.anomalies[0].ops.map((o) => o.index)).toEqual([1, 2]);
  });

  it('flags a read of more increments than had been sent', () => {
    const r = checkCounter(history(incr(1, 0, 1), incr(2, 2, 3), get(3, 5, 6), incr(null, 10, 11, 'info'), get(3, 20, 21, true)));
    expect(r.anomalies.map((a) => a.kind)).toEqual(['phantom-read']);
  });

  it('lets a read concurrent with an increment see either value', () => {
    const r = checkCounter(history(incr(1, 0, 1), incr(2, 2, 10), get(1, 3, 4), get(2, 5, 6), get(2, 20, 21, true)));
    expect(r.valid).toBe(true);
  });
});
