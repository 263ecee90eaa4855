import { describe, expect, it } from 'vitest';
import { checkQueue } from '../check/queue.ts';
import { type ChaosOp, OpFn } from '../history/ops.ts';
import { OptionError, parseOptions } from '../options.ts';
import { Random } from '../random.ts';
import type { Request } from '../workload/client.ts';
import { processingList, QueueWorkload } from '../workload/queue.ts';
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

describe('queue workload', () => {
  const done = (req: Request, result: string | null, status: St = 'ok'): ChaosOp =>
    op(req.f, req.key, status, 0, 1, { ...(req.value !== undefined ? { value: req.value } : {}), ...(status === 'ok' ? { result } : {}) });

  it('acknowledges each acknowledged LMOVE with an LREM from the same hash-tagged processing list, and reads it at the end', () => {
    const w = new QueueWorkload('lmove');
    const rnd = new Random(5);
    let moves = 0;
    for (let i = 0; i < 200; i++) {
      const req = w.next(rnd, 0, 3);
      expect(req.key).toMatch(/^\{q[01]\}/);
      if (req.f !== OpFn.Move) {
        expect(req.f).toBe(OpFn.Enqueue);
        continue;
      }
      moves++;
      expect(req.value).toBe(processingList(req.key, 3));
      // An acknowledged move is LREMmed next; an indeterminate one is left for the final read.
      w.observe(3, done(req, `e${i}`, i % 2 === 0 ? 'ok' : 'info'));
      if (i % 2 === 0) expect(w.next(rnd, 0, 3)).toEqual({ f: OpFn.Ack, key: req.value, value: `e${i}` });
    }
    expect(moves).toBeGreaterThan(50);
    expect(w.finals().map((r) => r.key)).toEqual(['{q0}', '{q1}', '{q0}:processing:w3', '{q1}:processing:w3']);
  });

  it('mixes the three pops by default', () => {
    const w = new QueueWorkload();
    const rnd = new Random(9);
    const fs = new Set(Array.from({ length: 200 }, () => w.next(rnd, 0, 0).f));
    expect([...fs].sort()).toEqual([OpFn.Dequeue, OpFn.Enqueue, OpFn.Move, OpFn.Pop].sort());
  });

  it('--queue-pop takes only the named pops', () => {
    expect(parseOptions(['--workload', 'queue', '--queue-pop', 'rpop'], 1).queuePop).toBe('rpop');
    expect(parseOptions([], 1).queuePop).toBe('mixed');
    expect(() => parseOptions(['--queue-pop', 'blpop'], 1)).toThrow(OptionError);
  });
});
