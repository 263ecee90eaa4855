/** Command-line options of `npm run fuzz`, one table naming each with its kind, default and help. */
import { parseArgs } from 'node:util';

export const TARGETS = ['resp', 'http', 'peer'] as const;
export type TargetName = (typeof TARGETS)[number];

interface Spec {
  readonly kind: 'int' | 'string' | readonly string[];
  readonly default: string | number | undefined;
  readonly help: string;
  readonly min?: number;
}

export const OPTIONS = {
  target: { kind: TARGETS, default: undefined, help: `what to fuzz: ${TARGETS.join(' | ')}` },
  iterations: { kind: 'int', default: 10_000, min: 1, help: 'frames (RESP), requests (HTTP) or WebSocket messages (peer) to send' },
  seed: { kind: 'int', default: undefined, min: 0, help: 'seed of every input (default: from the clock, printed)' },
  connections: { kind: 'int', default: 8, min: 1, help: 'sessions in flight at once, each on its own connection' },
  'rss-limit-mib': { kind: 'int', default: 512, min: 1, help: "the node's RSS bound (VmRSS); passing it ends the run" },
  'stall-ms': { kind: 'int', default: 1000, min: 1, help: "the well-behaved client's bound for a SET and GET" },
  'probe-ms': { kind: 'int', default: 200, min: 10, help: 'how often the well-behaved client checks' },
  'maxmemory-mib': {
    kind: 'int',
    default: 64,
    min: 0,
    help: "the node's maxmemory (allkeys-lru), so that stored data, which the inputs grow with APPEND and big SETs, is not taken for a memory attack (0: the node's default, no limit)",
  },
  password: { kind: 'string', default: '', help: 'start the node with --requirepass and authenticate every session with it' },
  include: { kind: 'string', default: '', help: 'comma-separated commands to generate although excluded by default (config|set)' },
  replay: {
    kind: 'string',
    default: '',
    help: 'send only the sessions starting at these iterations (comma-separated; same --seed and --iterations), all at once',
  },
  triage: {
    kind: 'string',
    default: '',
    help: 'replay each session of a crash, stall or RSS record alone on a fresh node, then all of them together, and report what each did',
  },
  'results-dir': { kind: 'string', default: 'tools/fuzz/results', help: 'where the run folder (records of crashes, stalls, RSS) goes' },
} as const satisfies Record<string, Spec>;

export interface FuzzOptions {
  target: TargetName;
  iterations: number;
  seed: number;
  connections: number;
  rssLimitMib: number;
  stallMs: number;
  probeMs: number;
  maxmemoryMib: number;
  password: string;
  include: string;
  replay: number[];
  triage: string;
  resultsDir: string;
  /** Nodes started: one; the peer target authenticates as a learner of it. */
  nodes: number;
}

export class OptionError extends Error {
  override name = 'OptionError';
}

export function usage(): string {
  const lines = ['usage: npm run fuzz -- --target resp|http|peer [options]'];
  for (const [name, spec] of Object.entries(OPTIONS) as [string, Spec][]) {
    const def = spec.default === undefined || spec.default === '' ? '' : ` (default ${spec.default})`;
    lines.push(`  --${name.padEnd(15)} ${spec.help}${def}`);
  }
  return lines.join('\n');
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseOptions(argv: readonly string[], defaultSeed: number): FuzzOptions | 'help' {
  const config: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const name of Object.keys(OPTIONS)) config[name] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new OptionError((err as Error).message);
  }
  if (values.help) return 'help';
  const out: Record<string, unknown> = { nodes: 1 };
  for (const [name, spec] of Object.entries(OPTIONS) as [string, Spec][]) {
    const v = values[name] ?? spec.default;
    if (spec.kind === 'int') {
      const n = v === undefined ? defaultSeed : typeof v === 'number' ? v : /^-?\d+$/.test(String(v)) ? Number(v) : Number.NaN;
      if (!Number.isSafeInteger(n)) throw new OptionError(`--${name}: expected a whole number, got '${String(v)}'`);
      if (spec.min !== undefined && n < spec.min) throw new OptionError(`--${name}: must be at least ${spec.min}`);
      out[camel(name)] = n;
    } else if (Array.isArray(spec.kind)) {
      // A triage takes the target (and seed and length) from its record.
      if (v === undefined && values.triage) continue;
      if (v === undefined) throw new OptionError(`--${name} is required (${spec.kind.join(' | ')})`);
      if (!spec.kind.includes(String(v))) throw new OptionError(`--${name}: expected one of ${spec.kind.join(', ')}, got '${String(v)}'`);
      out[camel(name)] = v;
    } else {
      out[camel(name)] = v;
    }
  }
  const replay = String(out.replay)
    .split(',')
    .filter((x) => x.trim() !== '');
  out.replay = replay.map(Number);
  const o = out as unknown as FuzzOptions;
  if (o.replay.some((i) => !Number.isSafeInteger(i) || i < 0 || i >= o.iterations)) {
    throw new OptionError(`--replay: expected iterations below --iterations, got '${replay.join(',')}'`);
  }
  return o;
}
