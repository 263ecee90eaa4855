import { describe, expect, it } from 'vitest';
import { checkQueue } from '../check/queue.ts';
import { history, op } from './ops.ts';

type St = 'ok' | 'fail' | 'info';
const push = (v: string, status: St = 'ok', key = 'q') => op('enqueue', key, status, 0, 1, { value: v, ...(status === 'ok' ? { result: 1 } : {}) });
const pop = (v: string | null, status: St = 'ok', key = 'q') => op('dequeue', key, status, 2, 3, status === 'ok' ? { result: v } : {});
const drain = (left: string[], key = 'q') => op('drain', key, 'ok', 10, 11, { result: JSON.stringify(left), final: true });

describe('queue checker', () => {
  it('accepts every acknowledged push popped once or left, and empty pops', () => {
    const r = checkQueue(history(push('a'), push('b'), push('c'), pop('a'), pop(null), pop('b'), drain(['c'])));
    expect(r.anomalies).toEqual([]);
    expect(r.stats).toMatchObject({ acknowledged: 3, popped: 2, emptyPops: 1, left: 1, lost: 0 });
  });

  it('flags an element popped twice, and one popped and left', () => {
    const r = checkQueue(history(push('a'), push('b'), pop('a'), pop('a'), pop('b'), drain(['b'])));
    expect(r.anomalies.map((a) => a.kind)).toEqual(['duplicate', 'duplicate']);
  });

  it('flags an acknowledged push that vanished, beyond what indeterminate pops may have taken', () => {
    const lost = checkQueue(history(push('a'), push('b'), drain([])));
    expect(lost.anomalies.map((a) => a.kind)).toEqual(['lost']);
    expect(lost.stats.lost).toBe(2);
    const excused = checkQueue(history(push('a'), push('b'), pop(null, 'info'), drain(['b'])));
    expect(excused.valid).toBe(true);
    expect(excused.stats).toMatchObject({ indeterminatePops: 1, indeterminatePopsTook: 1, lost: 0 });
    const oneTooMany = checkQueue(history(push('a'), push('b'), pop(null, 'info'), drain([])));
    expect(oneTooMany.stats.lost).toBe(1);
  });

  it('flags an element nobody pushed; counts recovered indeterminate pushes', () => {
    const r = checkQueue(history(push('a'), push('x', 'info'), push('y', 'fail'), pop('x'), pop('a'), drain(['y'])));
    expect(r.anomalies.map((a) => a.kind)).toEqual(['unexpected']);
    expect(r.stats.recovered).toBe(1);
  });

  it('judges lost elements only where the final read answered', () => {
    expect(checkQueue(history(push('a'))).valid).toBe(true);
  });
});
