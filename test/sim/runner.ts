/**
 * Running many seeds and reporting violations, shared by the CLI and the vitest suite.
 */
import { ReadOnlyOption } from '../../src/raft/index.ts';
import { describeFault } from './schedule.ts';
import { shrink } from './shrink.ts';
import { type RunOptions, type RunResult, runSeed } from './simulation.ts';
import { formatLine, TraceKind } from './trace.ts';

/** The CLI's defaults: 1000 seeds of 3000 chaos steps each (about 20 s of CPU). */
export const DEFAULT_SEEDS = 1000;
export const DEFAULT_STEPS = 3000;
/** Chaos steps of a multi-group run (`--groups`): each step covers less time with more groups. */
export const GROUP_STEPS = 6000;

export interface BatchOptions {
  seeds: number;
  seedStart: number;
  steps: number;
  nodes?: number;
  readMode?: 'safe' | 'lease';
  /** Multi-group runs with this many data groups at the start (groups/run.ts). */
  groups?: number;
  mutate?: RunOptions['mutate'];
  /** Shrink the first failing seed and print its trace (default true); later ones are only listed. */
  shrink?: boolean;
  /** Receives report lines as they are produced. */
  print?: (line: string) => void;
  /** Keep each run's readable trace lines, for `inspect` (tracing costs next to nothing). */
  trace?: boolean;
  /** Sees every run's result as it finishes (the vitest suite checks what the runs exercised). */
  inspect?: (result: RunResult) => void;
}

export interface BatchResult {
  seeds: number;
  steps: number;
  violations: RunResult[];
  /** Seeds run per cluster size. */
  sizes: Record<number, number>;
  /** Seeds run with lease reads. */
  leases: number;
  ops: number;
}

export async function runSeeds(opts: BatchOptions): Promise<BatchResult> {
  const print = opts.print ?? (() => {});
  const out: BatchResult = { seeds: 0, steps: 0, violations: [], sizes: {}, leases: 0, ops: 0 };
  for (let seed = opts.seedStart; seed < opts.seedStart + opts.seeds; seed++) {
    const options: RunOptions = { seed, steps: opts.steps, nodes: opts.nodes, readMode: opts.readMode, groups: opts.groups, mutate: opts.mutate };
    const result = await runSeed({ ...options, trace: opts.trace });
    opts.inspect?.(result);
    out.seeds++;
    out.steps += result.steps;
    out.ops += result.ops;
    out.sizes[result.profile.nodes] = (out.sizes[result.profile.nodes] ?? 0) + 1;
    if (result.profile.readOnly === ReadOnlyOption.LeaseBased) out.leases++;
    if (!result.violation) continue;
    out.violations.push(result);
    print(`VIOLATION at seed ${seed}: ${result.violation.invariant}`);
    const first = out.violations.length === 1;
    if (first && opts.shrink !== false) for (const line of await reportViolation(options, result)) print(line);
  }
  return out;
}

/** The replay command for a run's options. */
export function replayCommand(o: RunOptions, fired: number[] | undefined): string {
  const parts = [`npm run sim -- --seed ${o.seed} --steps ${o.steps}`];
  if (o.nodes !== undefined) parts.push(`--nodes ${o.nodes}`);
  if (o.readMode !== undefined) parts.push(`--read-mode ${o.readMode}`);
  if (o.groups !== undefined) parts.push(`--groups ${o.groups}`);
  if (o.mutate !== undefined) parts.push(`--mutate ${o.mutate}`);
  if (fired) parts.push(`--faults ${fired.join(',') || 'none'}`);
  if (o.calm) parts.push('--calm');
  if (o.noAutoSnapshots) parts.push('--no-auto-snapshots');
  if (o.wholeLogInMemory) parts.push('--whole-log-in-memory');
  if (o.clients !== undefined) parts.push(`--clients ${o.clients}`);
  return parts.join(' ');
}

/** Shrinks a failing run and renders it: the violation, how to replay it, and a readable trace. */
export async function reportViolation(options: RunOptions, failed: RunResult): Promise<string[]> {
  const { options: small, result: shrunk, runs } = await shrink(options, failed);
  const replayed = await runSeed({ ...small, trace: true });
  const v = replayed.violation ?? shrunk.violation!;
  const fired = replayed.faults.filter((f) => !small.skipFaults?.has(f.n) && f.at <= replayed.time);
  const lines = [
    `seed ${options.seed}: ${v.invariant} at step ${v.step} (time ${v.time}): ${v.message}`,
    `shrunk in ${runs} reruns to ${v.step} steps and ${fired.length} of ${failed.faults.filter((f) => f.at <= failed.time).length} faults${small.calm ? ', calm network' : ''}${small.noAutoSnapshots ? ', no automatic snapshots' : ''}${small.clients !== undefined ? `, ${small.clients} client(s)` : ''}`,
    `replay: ${replayCommand(
      small,
      fired.map((f) => f.n),
    )}`,
    'faults:',
    ...fired.map((f) => `  #${f.n} at t=${f.at}: ${describeFault(f.fault)}`),
    'trace (faults, cluster and client events; the last network events before the violation):',
  ];
  const all = replayed.tracer.lines;
  const lastNet = all
    .map((l, i) => (l.kind === TraceKind.Net ? i : -1))
    .filter((i) => i >= 0)
    .slice(-40);
  const keep = new Set(lastNet);
  all.forEach((l, i) => {
    if (l.kind !== TraceKind.Net || keep.has(i)) lines.push(`  ${formatLine(l)}`);
  });
  return lines;
}
