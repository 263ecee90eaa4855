import { describe, expect, it } from 'vitest';
import type { FaultWindow } from '../nemesis/scheduler.ts';
import { windowStats } from '../report/summary.ts';
import { history, op } from './ops.ts';

const win = (nemesis: FaultWindow['nemesis'], start: number, end: number): FaultWindow => ({
  nemesis,
  kind: 'k',
  detail: '',
  nodes: [],
  start,
  healAt: end,
  end,
});

describe('availability per window', () => {
  it('counts operations by the window they were invoked in, with healthy stretches between', () => {
    const ops = history(
      op('get', 'a', 'ok', 5, 6),
      op('get', 'a', 'fail', 12, 13),
      op('set', 'a', 'info', 14, 20, { value: '1' }),
      op('get', 'a', 'ok', 15, 16),
      op('get', 'a', 'ok', 25, 26),
      op('get', 'a', 'ok', 40, 41, { final: true }),
    );
    const w = windowStats(ops, [win('partition', 10, 20)], 0, 30);
    expect(w.map((x) => [x.name, x.ops, x.ok, x.fail, x.info, x.availability])).toEqual([
      ['healthy', 1, 1, 0, 0, 1],
      ['partition: k', 3, 1, 1, 1, 0.333],
      ['healthy', 1, 1, 0, 0, 1],
    ]);
  });

  it('does not invent a healthy stretch inside overlapping faults', () => {
    const w = windowStats([], [win('partition', 10, 30), win('kill', 15, 20)], 0, 40);
    expect(w.map((x) => [x.name, x.start, x.end])).toEqual([
      ['healthy', 0, 10],
      ['partition: k', 10, 30],
      ['kill: k', 15, 20],
      ['healthy', 30, 40],
    ]);
  });
});
