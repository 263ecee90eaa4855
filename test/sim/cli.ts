/**
 * npm run sim -- --seeds N [--seed-start S] [--steps K] [--nodes 1|2|3|5] [--read-mode safe|lease] [--groups G]
 * npm run sim -- --seed S [--steps K] [--nodes N] [--faults a,b,..|none] [--calm] [--no-auto-snapshots] [--whole-log-in-memory] [--clients C] [--quiet]
 *
 * The first form runs N seeds and shrinks any that fail; the second replays one seed with its
 * full trace (and the knobs a shrunk report prints). `--groups G` makes every run a multi-group
 * one (groups/run.ts): G data groups at the start on 3 to 5 nodes (`--nodes 3|4|5` fixes it),
 * split, moved and transferred mid-fault; `--mutate read-unowned|no-reconcile` breaks the
 * protocol on purpose (run-options.ts), to see the checks catch it. The last line is always
 * `seeds: N, steps: T, violations: V`.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SEEDS, DEFAULT_STEPS, GROUP_STEPS, runSeeds } from './runner.ts';
import { type RunOptions, runSeed } from './simulation.ts';
import { formatLine } from './trace.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      'seed-start': { type: 'string' },
      steps: { type: 'string' },
      nodes: { type: 'string' },
      seed: { type: 'string' },
      faults: { type: 'string' },
      calm: { type: 'boolean' },
      'no-auto-snapshots': { type: 'boolean' },
      'whole-log-in-memory': { type: 'boolean' },
      clients: { type: 'string' },
      quiet: { type: 'boolean' },
      'no-shrink': { type: 'boolean' },
      'read-mode': { type: 'string' },
      groups: { type: 'string' },
      mutate: { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, fallback?: number): number | undefined => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${v}`);
    return n;
  };
  const nodes = int('nodes', values.nodes);
  const groups = int('groups', values.groups);
  if (groups !== undefined && (groups < 1 || groups > 16)) throw new UsageError('--groups must be within 1..16');
  if (groups === undefined && nodes !== undefined && ![1, 2, 3, 5].includes(nodes)) throw new UsageError('--nodes must be 1, 2, 3 or 5');
  const mutation = values.mutate;
  if (mutation !== undefined && (groups === undefined || !['read-unowned', 'no-reconcile', 'map-copies-parent'].includes(mutation))) {
    throw new UsageError('--mutate must be read-unowned, no-reconcile or map-copies-parent, with --groups');
  }
  const mutate = mutation as RunOptions['mutate'];
  const steps = int('steps', values.steps, groups === undefined ? DEFAULT_STEPS : GROUP_STEPS)!;
  if (groups !== undefined && nodes !== undefined && ![3, 4, 5].includes(nodes)) throw new UsageError('--nodes must be 3, 4 or 5 with --groups');
  const mode = values['read-mode'];
  if (mode !== undefined && mode !== 'safe' && mode !== 'lease') throw new UsageError('--read-mode must be safe or lease');
  const readMode: 'safe' | 'lease' | undefined = mode;

  if (values.seed !== undefined) {
    const seed = int('seed', values.seed)!;
    const base = await runSeed({ seed, steps, nodes, readMode, groups, mutate });
    let skipFaults: Set<number> | undefined;
    if (values.faults !== undefined) {
      const keep = new Set(values.faults === 'none' ? [] : values.faults.split(',').map((x) => int('faults', x)!));
      skipFaults = new Set(base.faults.map((f) => f.n).filter((n) => !keep.has(n)));
    }
    const options = {
      seed,
      steps,
      nodes,
      skipFaults,
      calm: values.calm,
      noAutoSnapshots: values['no-auto-snapshots'],
      wholeLogInMemory: values['whole-log-in-memory'],
      clients: int('clients', values.clients),
      readMode,
      groups,
      mutate,
    };
    const result = await runSeed({ ...options, trace: true });
    if (!values.quiet) for (const l of result.tracer.lines) console.log(formatLine(l));
    console.log(`trace hash ${result.traceHash}, ${result.ops} client operations, ${result.time} time units`);
    if (result.violation) console.log(`VIOLATION ${result.violation.invariant}: ${result.violation.message}`);
    console.log(`seeds: 1, steps: ${result.steps}, violations: ${result.violation ? 1 : 0}`);
    return result.violation ? 1 : 0;
  }

  const seeds = int('seeds', values.seeds, DEFAULT_SEEDS)!;
  const seedStart = int('seed-start', values['seed-start'], 1)!;
  const started = performance.now();
  const print = (line: string) => console.log(line);
  const batch = await runSeeds({ seeds, seedStart, steps, nodes, readMode, groups, mutate, shrink: !values['no-shrink'], print });
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${batch.ops} client operations checked; sizes ${JSON.stringify(batch.sizes)}; ${batch.leases} with lease reads; ${secs}s`);
  for (const v of batch.violations) console.log(`failing seed ${v.seed}: ${v.violation!.invariant}`);
  console.log(`seeds: ${batch.seeds}, steps: ${batch.steps}, violations: ${batch.violations.length}`);
  return batch.violations.length > 0 ? 1 : 0;
}

class UsageError extends Error {
  override name = 'UsageError';
}

try {
  process.exitCode = await main();
} catch (e) {
  if (!(e instanceof Error)) throw e;
  const parseError = (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ?? false;
  if (!(e instanceof UsageError) && !parseError) throw e;
  console.error(
    `${e.message}\nusage: npm run sim -- --seeds N [--seed-start S] [--steps K] [--nodes 1|2|3|5] [--read-mode safe|lease] [--groups G] | --seed S`,
  );
  process.exitCode = 2;
}
