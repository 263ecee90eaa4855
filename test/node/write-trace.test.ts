/**
 * The write trace (--trace-writes): the client's stages are matched to the log indexes their
 * writes got, in order, and the dump holds every stamp, on one monotonic clock.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteTrace } from '../../src/node/write-trace.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dumped(trace: WriteTrace): { stage: string; index: number; ns: number }[] {
  return (JSON.parse(readFileSync(trace.dump(), 'utf8')) as { stamps: { stage: string; index: number; ns: number }[] }).stamps;
}

describe('WriteTrace', () => {
  it("gives a turn's writes their indexes in order, and each reply to the oldest applied write of this node", () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkv-trace-test-'));
    dirs.push(dir);
    const t = new WriteTrace(dir, 'n1');
    t.received();
    t.proposed();
    t.received();
    t.proposed();
    t.batched(7, 2);
    t.stamp('sent', 7);
    // Entry 6 was not proposed here (another node's, or the leader's no-op): no reply for it.
    t.applied(6);
    t.applied(7);
    t.settled();
    t.replied();
    t.applied(8);
    t.replied();
    t.replied(); // a reply to something else (a PING): nothing waits
    const stamps = dumped(t);
    const of = (index: number) => stamps.filter((s) => s.index === index).map((s) => s.stage);
    expect(of(7)).toEqual(['received', 'proposed', 'batched', 'sent', 'applied', 'settled', 'replied']);
    expect(of(8)).toEqual(['received', 'proposed', 'batched', 'applied', 'replied']);
    expect(of(6)).toEqual([]);
    // One monotonic clock: each write's stamps never go back.
    for (const index of [7, 8]) {
      const ns = stamps.filter((s) => s.index === index).map((s) => s.ns);
      expect([...ns].sort((a, b) => a - b)).toEqual(ns);
    }
    expect(readFileSync(join(dir, 'n1.trace.json'), 'utf8')).toContain('"node":"n1"');
  });
});
