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

describe('queue checker: RPOP and the reliable queue (LMOVE into a processing list, then LREM)', () => {
  const P = 'q:processing:w0';
  const move = (v: string | null, status: St = 'ok') => op('move', 'q', status, 2, 3, { value: P, ...(status === 'ok' ? { result: v } : {}) });
  const ack = (v: string, removed = 1, status: St = 'ok') => op('ack', P, status, 4, 5, { value: v, ...(status === 'ok' ? { result: removed } : {}) });
  const drainP = (left: string[]) => op('drain', P, 'ok', 12, 13, { result: JSON.stringify(left), final: true });
  const rpop = (v: string | null, status: St = 'ok') => op('pop', 'q', status, 2, 3, status === 'ok' ? { result: v } : {});

  it('accepts an acknowledged job, and one whose worker never acknowledged it left in its processing list', () => {
    const r = checkQueue(history(push('a'), push('b'), push('c'), move('a'), ack('a'), move('b'), rpop('c'), rpop(null), drain([]), drainP(['b'])));
    expect(r.anomalies).toEqual([]);
    expect(r.stats).toMatchObject({ acknowledged: 3, moved: 2, popped: 1, workerAcks: 1, inProcessing: 1, emptyPops: 1, lost: 0 });
  });

  it('flags an element still in the processing list after its LREM removed it, and one RPOPped twice', () => {
    const r = checkQueue(history(push('a'), push('b'), move('a'), ack('a'), rpop('b'), rpop('b'), drain([]), drainP(['a'])));
    expect(r.anomalies.map((a) => a.kind).sort()).toEqual(['duplicate', 'duplicate']);
    expect(r.stats.duplicated).toBe(2);
    expect(r.valid).toBe(false);
  });

  it('flags an element moved into the processing list and also left in the queue', () => {
    const r = checkQueue(history(push('a'), move('a'), drain(['a']), drainP(['a'])));
    expect(r.anomalies.map((a) => a.kind)).toEqual(['duplicate']);
  });

  it('finds an indeterminate LMOVE element in the processing list; an indeterminate LMOVE excuses no loss', () => {
    const found = checkQueue(history(push('a'), move(null, 'info'), drain([]), drainP(['a'])));
    expect(found.valid).toBe(true);
    expect(found.stats).toMatchObject({ indeterminateMoves: 1, inProcessing: 1, lost: 0 });
    const vanished = checkQueue(history(push('a'), move(null, 'info'), drain([]), drainP([])));
    expect(vanished.anomalies.map((a) => a.kind)).toEqual(['lost']);
  });

  it('counts an element missing after an indeterminate RPOP apart, not as lost', () => {
    const r = checkQueue(history(push('a'), push('b'), rpop(null, 'info'), rpop('b'), drain([])));
    expect(r.valid).toBe(true);
    expect(r.stats).toMatchObject({ indeterminatePops: 1, indeterminatePopsTook: 1, lost: 0 });
  });

  it('flags an LREM that found nothing where its LMOVE put the element', () => {
    const r = checkQueue(history(push('a'), move('a'), ack('a', 0), drain([]), drainP([])));
    expect(r.anomalies.map((a) => a.kind)).toEqual(['ack-missed']);
  });

  it('does not judge losses while a processing list was never read', () => {
    const unread = op('drain', P, 'fail', 12, 13, { final: true });
    expect(checkQueue(history(push('a'), move(null, 'info'), drain([]), unread)).valid).toBe(true);
    expect(checkQueue(history(push('a'), move(null, 'info'), drain([]), unread, drainP([]))).valid).toBe(false);
  });
});
