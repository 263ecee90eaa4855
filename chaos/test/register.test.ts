import { describe, expect, it } from 'vitest';
import { checkRegister, lostWrites, toRegisterHistory } from '../check/register.ts';
import { history, op } from './ops.ts';

const set = (v: string, call: number, ret: number, status: 'ok' | 'fail' | 'info' = 'ok') => op('set', 'x', status, call, ret, { value: v });
const getset = (v: string, old: string | null, call: number, ret: number) => op('getset', 'x', 'ok', call, ret, { value: v, result: old });
const get = (v: string | null, call: number, ret: number, final = false) => op('get', 'x', 'ok', call, ret, { result: v, final });

describe('register checks', () => {
  it('translates SET..GET into a successful compare-and-set from the value it returned', () => {
    const [h] = toRegisterHistory(history(getset('2', '1', 0, 5)));
    expect(h).toMatchObject({ op: 'cas', input: { expect: '1', value: '2' }, output: true, status: 'ok' });
  });

  it('accepts a linearizable history', () => {
    const r = checkRegister(history(set('1', 0, 10), getset('2', '1', 11, 20), get('2', 21, 22), set('3', 23, 30, 'info'), get('2', 31, 32, true)));
    expect(r.anomalies).toEqual([]);
  });

  it('finds a stale read with the shared checker and maps the witness back to chaos operations', () => {
    const h = history(set('1', 0, 10), set('2', 11, 20), get('1', 21, 22));
    const r = checkRegister(h);
    expect(r.valid).toBe(false);
    const lin = r.anomalies.find((a) => a.kind === 'nonlinearizable')!;
    expect(lin.text).toContain('not linearizable');
    expect(lin.ops.every((o) => h.includes(o))).toBe(true);
  });

  it('flags a SET..GET that saw a value overwritten before it began', () => {
    expect(checkRegister(history(set('1', 0, 10), set('2', 11, 20), getset('3', '1', 21, 30))).valid).toBe(false);
  });

  it('reports a final read that lost the last acknowledged write', () => {
    const lost = lostWrites(history(set('1', 0, 10), set('2', 11, 20), get('1', 50, 51, true)));
    expect(lost.map((a) => a.kind)).toEqual(['lost-write']);
    expect(lost[0].ops.map((o) => o.value ?? o.result)).toEqual(['2', '1']);
    // A concurrent indeterminate write may win instead.
    expect(lostWrites(history(set('1', 0, 10), set('2', 5, 20, 'info'), get('2', 50, 51, true)))).toEqual([]);
    expect(lostWrites(history(set('1', 0, 10), set('2', 5, 20, 'fail'), get('2', 50, 51, true)))).toHaveLength(1);
  });
});
