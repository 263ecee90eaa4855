/**
 * One seeded run of the cluster simulator: a discrete-event loop over node ticks, message
 * deliveries, client operations and scheduled faults (cluster.ts). After every step the safety
 * monitor has checked whatever the step changed; at the end all faults heal, the cluster must
 * elect a leader and commit a new write everywhere (liveness), and the client history must be
 * linearizable.
 */
import { checkLinearizability, formatCounterexample } from '../support/linearizability.ts';
import { Cluster } from './cluster.ts';
import { runGroupsSeed } from './groups/run.ts';
import { Invariant, InvariantViolation } from './invariants.ts';
import type { RunOptions } from './run-options.ts';
import type { Profile, ScheduledFault } from './schedule.ts';
import { TraceKind as K, type Tracer } from './trace.ts';

export type { RunOptions } from './run-options.ts';

export interface Violation {
  invariant: Invariant;
  message: string;
  step: number;
  time: number;
}

export interface RunResult {
  seed: number;
  steps: number;
  time: number;
  profile: Profile;
  faults: ScheduledFault[];
  violation?: Violation;
  traceHash: string;
  tracer: Tracer;
  ops: number;
}

export async function runSeed(opts: RunOptions): Promise<RunResult> {
  if (opts.groups !== undefined) return runGroupsSeed(opts);
  const cluster = new Cluster(opts);
  let violation: Violation | undefined;
  try {
    cluster.boot();
    while (cluster.step < opts.steps) await cluster.next();
    await cluster.heal();
    const result = checkLinearizability(cluster.workload.history);
    if (!result.ok) throw new InvariantViolation(Invariant.Linearizability, `\n${formatCounterexample(result.counterexample!)}`);
  } catch (e) {
    const v = e instanceof InvariantViolation ? e : new InvariantViolation(Invariant.CoreError, describeError(e));
    violation = { invariant: v.invariant, message: v.message.slice(v.invariant.length + 2), step: cluster.step, time: cluster.time };
    cluster.trace(K.Cluster, `VIOLATION ${v.message}`);
  }
  return {
    seed: opts.seed,
    steps: cluster.step,
    time: cluster.time,
    profile: cluster.profile,
    faults: cluster.faults,
    violation,
    traceHash: cluster.tracer.hash,
    tracer: cluster.tracer,
    ops: cluster.workload.history.length,
  };
}

function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const where = e.stack
    ?.split('\n')
    .find((l) => l.includes('src/'))
    ?.trim();
  return `${e.name}: ${e.message}${where ? ` (${where})` : ''}`;
}
