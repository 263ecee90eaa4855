import { describe, expect, it } from 'vitest';
import { DEFAULT_STEPS, runSeeds } from './runner.ts';
import { runSeed } from './simulation.ts';

describe('deterministic cluster simulation', () => {
  it('500 seeds of 3- and 5-node clusters under faults break no invariant', () => {
    const batch = runSeeds({ seeds: 500, seedStart: 1, steps: DEFAULT_STEPS, shrink: false });
    const failures = batch.violations.map((r) => `seed ${r.seed}: ${r.violation!.invariant}: ${r.violation!.message}`);
    expect(failures).toEqual([]);
    expect(batch.seeds).toBe(500);
    expect(batch.sizes[3]).toBeGreaterThan(150);
    expect(batch.sizes[5]).toBeGreaterThan(100);
    expect(batch.pipelined).toBeGreaterThan(200);
    expect(batch.seeds - batch.pipelined).toBeGreaterThan(200);
    // Every seed ran its chaos phase, then healed, committed a write everywhere and was checked.
    expect(batch.steps).toBeGreaterThan(500 * DEFAULT_STEPS);
    expect(batch.ops).toBeGreaterThan(500 * 50);
  });

  it('a seed replays bit for bit, with or without a trace', () => {
    for (const seed of [7, 4242]) {
      const a = runSeed({ seed, steps: DEFAULT_STEPS });
      const b = runSeed({ seed, steps: DEFAULT_STEPS, trace: true });
      expect(b.traceHash).toBe(a.traceHash);
      expect([b.steps, b.time, b.ops]).toEqual([a.steps, a.time, a.ops]);
      expect(b.tracer.lines.length).toBeGreaterThan(100);
    }
    expect(runSeed({ seed: 8, steps: 500 }).traceHash).not.toBe(runSeed({ seed: 9, steps: 500 }).traceHash);
  });

  it('the pipelined loop must hold append acknowledgements behind the saves queued before them', () => {
    // n3 gets entry 3 (its save queued), then an empty append at index 3: the answer comes from
    // a Ready with nothing to write. Sent at once, it lets n1 commit and acknowledge entry 3
    // while only n1 has it on disk, and n2 and n3 could elect n2 without it.
    const options = { seed: 9, steps: 160, skipFaults: new Set<number>(), calm: true, noAutoSnapshots: true, clients: 2 };
    const eager = runSeed({ ...options, eagerResponses: true });
    expect(eager.profile.asyncStorage).toBe(true);
    expect(eager.violation?.invariant).toBe('committed-entry-lost');
    expect(eager.violation?.message).toMatch(/committed entry 3 \(term 1\) is not on n2's disk/);
    expect(runSeed({ ...options, steps: DEFAULT_STEPS }).violation).toBeUndefined();
  });

  it('exercises every kind of fault the design asks for', () => {
    const seen = new Set<string>();
    const effects: Record<string, RegExp> = {
      'symmetric partition': /partition halves/,
      'isolated leader': /partition isolate-leader/,
      'one-way partition': /partition one-way/,
      'bridge partition': /partition bridge/,
      'ring partition': /partition ring/,
      'crash and restart from disk': /restarted from disk/,
      'crash mid-Ready': /crashed \(torn Ready/,
      'crash with writes queued': /crashed .*, losing \d+ queued write/,
      'crash after a vote': /crashed \(churn #\d+: just granted a vote\)/,
      'crash after a commit': /crashed \(churn #\d+: just advanced its commit index\)/,
      'snapshot installed': /installed snapshot/,
      'learner added': /configuration at \d+: voters [\w,]+ learners n\d/,
      'member removed': /decommissioned/,
      'leadership transferred': /transfer leadership: n\d -> n\d/,
      storm: /storm .* started/,
      'liveness after healing': /liveness: write at index \d+ applied on every member/,
    };
    for (let seed = 1; seed <= 60 && seen.size < Object.keys(effects).length; seed++) {
      const r = runSeed({ seed, steps: DEFAULT_STEPS, trace: true });
      for (const line of r.tracer.lines) {
        for (const [name, re] of Object.entries(effects)) if (re.test(line.text)) seen.add(name);
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(effects).sort());
  });
});
