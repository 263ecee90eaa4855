/** Command-line options of `npm run chaos`, one table naming each with its type, default and help. */
import { parseArgs } from 'node:util';
import { NEMESES, type NemesisName } from './nemesis/nemeses.ts';
import { QUEUE_POPS, type QueuePop } from './workload/queue.ts';
import { WORKLOADS, type WorkloadName } from './workload/workload.ts';

interface Spec {
  readonly kind: 'int' | 'bool' | 'string' | 'nemeses' | readonly string[];
  readonly default: string | number | boolean | undefined;
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
}

export const OPTIONS = {
  nodes: { kind: 'int', default: 5, min: 3, max: 9, help: 'initial cluster size' },
  shards: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 16,
    help: "the nodes' --shards: data groups (Raft groups owning slot ranges) besides the slot map's group 0; clients route by slot",
  },
  time: { kind: 'int', default: 60, min: 5, help: 'seconds of load under faults (recovery and checking come on top)' },
  nemesis: { kind: 'nemeses', default: 'partition,kill,pause', help: `comma-separated: ${NEMESES.join(',')}` },
  workload: { kind: WORKLOADS, default: 'register', help: WORKLOADS.join(' | ') },
  'queue-pop': {
    kind: QUEUE_POPS,
    default: 'mixed',
    help: `queue workload's pop: ${QUEUE_POPS.join(' | ')} (lmove: into a per-client processing list, then LREM; mixed: each pop picks one)`,
  },
  seed: { kind: 'int', default: undefined, min: 0, help: 'seed for every random choice (default: from the clock, printed)' },
  concurrency: { kind: 'int', default: 10, min: 1, max: 200, help: 'concurrent clients' },
  rate: { kind: 'int', default: 150, min: 1, help: 'target operations per second over all clients' },
  'timeout-ms': { kind: 'int', default: 3000, min: 100, help: 'a reply later than this is indeterminate' },
  'read-mode': { kind: ['safe', 'lease'], default: 'safe', help: "the nodes' --read-mode" },
  'follower-reads': {
    kind: 'bool',
    default: false,
    help: 'control experiment: GETs go to random members with READONLY (stale reads allowed), so the checker must fail',
  },
  overlap: { kind: 'bool', default: false, help: 'half the time, a second different fault joins the one in force' },
  'max-skew-ms': { kind: 'int', default: 1000, min: 0, help: 'clock nemesis: largest offset of a node clock' },
  'tick-ms': { kind: 'int', default: 50, min: 1, help: "the nodes' --tick-ms (smaller: faster elections, more of them)" },
  'snapshot-entries': { kind: 'int', default: 1000, min: 1, help: "the nodes' --snapshot-entries (small, so snapshots and installs happen)" },
  'results-dir': { kind: 'string', default: 'chaos/results', help: 'where the run directory goes' },
  'keep-data': { kind: 'bool', default: false, help: 'keep node data directories of a valid run (an invalid run always keeps them)' },
  cleanup: { kind: 'bool', default: false, help: "remove a crashed run's namespaces, links and rules, then exit" },
  check: { kind: 'string', default: '', help: 'check the history.jsonl of an earlier run directory again, instead of running' },
  help: { kind: 'bool', default: false, help: 'this text' },
} as const satisfies Record<string, Spec>;

export interface ChaosOptions {
  nodes: number;
  shards: number;
  time: number;
  nemesis: NemesisName[];
  workload: WorkloadName;
  queuePop: QueuePop;
  seed: number;
  concurrency: number;
  rate: number;
  timeoutMs: number;
  readMode: 'safe' | 'lease';
  followerReads: boolean;
  overlap: boolean;
  maxSkewMs: number;
  tickMs: number;
  snapshotEntries: number;
  resultsDir: string;
  keepData: boolean;
  cleanup: boolean;
  check: string;
  help: boolean;
}

export class OptionError extends Error {
  override name = 'OptionError';
  constructor(option: string, detail: string) {
    super(`--${option}: ${detail}`);
  }
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function usage(): string {
  const lines = ['usage: npm run chaos -- [options]'];
  for (const [name, spec] of Object.entries(OPTIONS) as [string, Spec][]) {
    const def = spec.default === undefined || spec.default === false ? '' : ` (default ${spec.default})`;
    lines.push(`  --${name.padEnd(18)} ${spec.help}${def}`);
  }
  return lines.join('\n');
}

export function parseOptions(argv: readonly string[], defaultSeed: number): ChaosOptions {
  const table = OPTIONS as Record<string, Spec>;
  const config: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, spec] of Object.entries(table)) config[name] = { type: spec.kind === 'bool' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new OptionError('flags', (err as Error).message);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const raw = values[name];
    const v = raw ?? spec.default;
    if (spec.kind === 'int') {
      const n = v === undefined ? defaultSeed : typeof v === 'number' ? v : /^\d+$/.test(String(v)) ? Number(v) : Number.NaN;
      if (!Number.isSafeInteger(n)) throw new OptionError(name, `expected a whole number, got '${String(v)}'`);
      if (spec.min !== undefined && n < spec.min) throw new OptionError(name, `must be at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw new OptionError(name, `must be at most ${spec.max}`);
      out[camel(name)] = n;
    } else if (spec.kind === 'nemeses') {
      const list = String(v)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const item of list) {
        if (!(NEMESES as readonly string[]).includes(item)) throw new OptionError(name, `unknown nemesis '${item}' (choose from ${NEMESES.join(', ')})`);
      }
      if (list.length === 0) throw new OptionError(name, 'name at least one nemesis');
      out[camel(name)] = [...new Set(list)];
    } else if (Array.isArray(spec.kind)) {
      if (!spec.kind.includes(String(v))) throw new OptionError(name, `expected one of ${spec.kind.join(', ')}, got '${String(v)}'`);
      out[camel(name)] = v;
    } else {
      out[camel(name)] = v;
    }
  }
  const o = out as unknown as ChaosOptions;
  if (o.nemesis.includes('reshard') && o.shards < 2) throw new OptionError('nemesis', 'reshard changes shards: run it with --shards 2 or more');
  // Removing a node from a sharded cluster means draining its replicas first (the rebalancer's
  // `member drain`), which the membership nemesis does not do.
  if (o.nemesis.includes('membership') && o.shards > 1) throw new OptionError('nemesis', 'membership is for a cluster of one group: not with --shards');
  if (o.followerReads && o.shards > 1) throw new OptionError('follower-reads', 'is for a cluster of one group: not with --shards');
  return o;
}
