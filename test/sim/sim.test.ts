import { beforeAll, describe, expect, it } from 'vitest';
import { type BatchResult, DEFAULT_STEPS, runSeeds } from './runner.ts';
import { type RunResult, runSeed } from './simulation.ts';

/** What the 60 default seeds must exercise between them: every kind of fault and operation the design asks for. */
const EFFECTS: Record<string, RegExp> = {
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
  'one voter grows to two': /configuration at \d+: voters n\d,n\d learners/,
  'member removed': /decommissioned/,
  'leadership transferred': /transfer leadership: n\d -> n\d/,
  // Issue 11's holes 2 and 1 (targeted.ts): a transfer whose old leader is cut off as its
  // TimeoutNow lands; a single voter re-elected on a slow disk with a learner catching up.
  'old leader cut off mid-transfer': /(isolate|deafen) n\d \(its TimeoutNow reached n\d\)/,
  'single voter restarted on a slow disk': /n1 restarts on a slow disk, n\d is the learner/,
  storm: /storm .* started/,
  'liveness after healing': /liveness: write at index \d+ applied on every member/,
  'INCR applied': /op \d+ ok: applied: \d+$/,
  'WATCH/EXEC aborted': /op \d+ fail: applied: aborted/,
  'WATCH/EXEC proposed': /cas k\d .* \(version \d+\)/,
  'TTL set': /with ttl/,
  'clock jump': /clock jump -?\d+ ms: n\d/,
  'event-loop stall': /stall (the leader|a node) for \d+: n\d/,
  'clock drift': /drift<=0\.00[24]/,
};

describe('deterministic cluster simulation', () => {
  /** The 60 default seeds, run once with traces: their invariants and what they exercised are both checked. */
  let batch: BatchResult;
  const seen = new Set<string>();
  beforeAll(async () => {
    const inspect = (r: RunResult) => {
      for (const line of r.tracer.lines) {
        for (const [name, re] of Object.entries(EFFECTS)) if (!seen.has(name) && re.test(line.text)) seen.add(name);
      }
    };
    batch = await runSeeds({ seeds: 60, seedStart: 1, steps: DEFAULT_STEPS, shrink: false, trace: true, inspect });
  }, 300_000);

  it('60 seeds of 1-, 2-, 3- and 5-voter clusters under faults break no invariant', () => {
    const failures = batch.violations.map((r) => `seed ${r.seed}: ${r.violation!.invariant}: ${r.violation!.message}`);
    expect(failures).toEqual([]);
    expect(batch.seeds).toBe(60);
    for (const size of [1, 2, 3, 5]) expect(batch.sizes[size]).toBeGreaterThan(4);
    // Every seed ran its chaos phase, then healed, committed a write everywhere and was checked.
    expect(batch.steps).toBeGreaterThan(60 * DEFAULT_STEPS);
    expect(batch.ops).toBeGreaterThan(60 * 50);
  });

  it("lease reads (measured on each node's own drifting clock) stay linearizable under stalls, skew and drift", async () => {
    const batch = await runSeeds({ seeds: 25, seedStart: 1000, steps: DEFAULT_STEPS, readMode: 'lease', shrink: false });
    const failures = batch.violations.map((r) => `seed ${r.seed}: ${r.violation!.invariant}: ${r.violation!.message}`);
    expect(failures).toEqual([]);
    expect(batch.leases).toBe(25);
  }, 300_000);

  it('a seed replays bit for bit, with or without a trace', async () => {
    for (const seed of [7, 4242]) {
      const a = await runSeed({ seed, steps: DEFAULT_STEPS });
      const b = await runSeed({ seed, steps: DEFAULT_STEPS, trace: true });
      expect(b.traceHash).toBe(a.traceHash);
      expect([b.steps, b.time, b.ops]).toEqual([a.steps, a.time, a.ops]);
      expect(b.tracer.lines.length).toBeGreaterThan(100);
    }
    expect((await runSeed({ seed: 8, steps: 500 })).traceHash).not.toBe((await runSeed({ seed: 9, steps: 500 })).traceHash);
  }, 60_000);

  it('exercises every kind of fault and operation the design asks for', () => {
    expect([...seen].sort()).toEqual(Object.keys(EFFECTS).sort());
  });
});
