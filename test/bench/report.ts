/** Turns one run's measurements into the printed table and the target ratios (PASS/MISS). */
import { describeWindow, type ElectionWindow, electionsIn } from './elections.ts';
import { cpuPerOpUs, type LoadResult } from './load-result.ts';
import { type TypeRow, typeTargets } from './memory-types.ts';
import type { RbResult } from './redis-benchmark.ts';
import { cpuRatio, renderShards, type ShardRow, shardCount, shardTargets } from './shards.ts';

export interface BenchResults {
  startedAt: string;
  quick: boolean;
  machine: { cpus: number; loadAvgBefore: number[]; loadAvgAfter: number[]; node: string };
  writeLoad: LoadResult[];
  redisBenchmark: RbResult[];
  failover?: { killMs: number[]; termMs: number[]; killMedianMs: number; termMedianMs: number };
  memory?: { keys: number; raftkvRssMiB: Record<string, number>; redisRssMiB: number };
  /** `--shards`: one row per shard count (shards.ts). */
  shards?: ShardRow[];
  /** The mixed workload (mix.ts): A/B rounds of the `strings` and `cache` mixes on the main cluster. */
  mixed?: LoadResult[];
  /** `--memory`: bytes per member of a 100k-member collection per type (memory-types.ts). */
  types?: TypeRow[];
  /** Terms around every load on a RaftKV cluster (elections.ts); the failover trials are not watched. */
  elections?: ElectionWindow[];
  targets: Target[];
}

export interface Target {
  name: string;
  measured: string;
  goal: string;
  pass: boolean | null;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2) : 'n/a');
const pad = (s: string, n: number) => s.padEnd(n);

export function renderTable(r: BenchResults): string {
  const rows: string[][] = [['system', 'load', 'clients', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'gen CPU', 'server CPU us/op']];
  const load = (w: LoadResult, name: string) => [
    w.system,
    name,
    String(w.clients),
    f1(w.opsPerSec),
    f1(w.p50Ms),
    f1(w.p99Ms),
    f1(w.p999Ms),
    `${(w.generatorCpu * 100).toFixed(0)}%`,
    w.nodeCpu ? f1(cpuPerOpUs(w)) : '',
  ];
  for (const w of r.writeLoad) rows.push(load(w, 'SET closed-loop'));
  for (const w of r.mixed ?? []) rows.push(load(w, `mix ${w.system.replace(/^raftkv-/, '')}`));
  for (const b of r.redisBenchmark)
    rows.push([b.system, `redis-benchmark ${b.test.toUpperCase()}`, b.config, f1(b.opsPerSec), f1(b.p50Ms), f1(b.p99Ms), '', '', '']);
  if (r.failover) {
    rows.push([
      'raftkv',
      'failover kill -9',
      `n=${r.failover.killMs.length}`,
      '',
      `median ${f1(r.failover.killMedianMs)}`,
      `max ${f1(Math.max(...r.failover.killMs))}`,
      '',
      '',
      '',
    ]);
    rows.push([
      'raftkv',
      'failover SIGTERM',
      `n=${r.failover.termMs.length}`,
      '',
      `median ${f1(r.failover.termMedianMs)}`,
      `max ${f1(Math.max(...r.failover.termMs))}`,
      '',
      '',
      '',
    ]);
  }
  if (r.memory) {
    const nodes = Object.entries(r.memory.raftkvRssMiB)
      .map(([id, m]) => `${id} ${m.toFixed(0)}`)
      .join(', ');
    rows.push(['raftkv', `RSS MiB, ${r.memory.keys} keys`, nodes, '', '', '', '', '', '']);
    rows.push(['redis', `RSS MiB, ${r.memory.keys} keys`, r.memory.redisRssMiB.toFixed(0), '', '', '', '', '', '']);
  }
  for (const t of r.types ?? []) {
    // The median of the steps after the first, then every step (memory-types.ts says why).
    const b = (x: number | null, steps = [] as number[]) =>
      x === null ? 'not built' : `${x.toFixed(0)} B (steps ${steps.map((s) => s.toFixed(0)).join(' / ')})`;
    rows.push(['raftkv leader', `RSS per ${t.type} member, 100k`, b(t.raftkvBytes, t.raftkvSteps), '', '', '', '', '', '']);
    rows.push(['redis', `RSS per ${t.type} member, 100k`, b(t.redisBytes, t.redisSteps), '', '', '', '', '', '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)) + 2);
  const lines = rows.map((row) =>
    row
      .map((c, i) => pad(c, widths[i]!))
      .join('')
      .trimEnd(),
  );
  lines.splice(1, 0, '-'.repeat(widths.reduce((a, b) => a + b, 0)));
  // A --shards run measures only the shard rows: no empty table above them.
  if (rows.length === 1) lines.length = 0;
  if (r.shards) lines.push(...(lines.length > 0 ? [''] : []), 'replicated SET by shard count (3 nodes, cluster-aware closed loop):', renderShards(r.shards));
  if (r.elections && r.elections.length > 0) {
    lines.push('', 'elections per load (largest term rise over the nodes; failover trials not counted):');
    for (const w of r.elections) lines.push(`  ${pad(w.load, 44)} ${describeWindow(w)}`);
  }
  lines.push('', renderTargets(r.targets));
  return lines.join('\n');
}

export function renderTargets(targets: Target[]): string {
  const lines = ['targets (ratios measured in this run):'];
  for (const t of targets) lines.push(`  ${t.pass === null ? 'SKIP' : t.pass ? 'PASS' : 'MISS'}  ${pad(t.name, 44)} ${pad(t.measured, 40)} goal ${t.goal}`);
  return lines.join('\n');
}

/** Issue 15 target 6: no election during any watched load. */
export function electionTarget(windows: ElectionWindow[] | undefined): Target {
  const counts = (windows ?? []).map(electionsIn);
  const total = counts.reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);
  const during = (windows ?? []).filter((_, i) => (counts[i] ?? 0) > 0).map((w) => w.load);
  const unknown = counts.filter(Number.isNaN).length;
  return {
    name: 'elections during bench loads',
    measured:
      counts.length === 0
        ? 'not measured'
        : `${total} in ${counts.length} loads${during.length > 0 ? ` (${during.join('; ')})` : ''}${unknown > 0 ? `, ${unknown} unreadable` : ''}`,
    goal: '0 (failover trials excluded)',
    pass: counts.length === 0 ? null : total === 0 && unknown === 0,
  };
}

export function computeTargets(r: Omit<BenchResults, 'targets'>): Target[] {
  // A --shards run measures the shard rows only: its targets are issue 13's, and issue 15's
  // string-path cost of shards.
  if (r.shards && r.writeLoad.length === 0 && r.redisBenchmark.length === 0) return [...shardTargets(r.shards), shardCpuTarget(r.shards)];
  const w = (system: string, clients: number) => r.writeLoad.find((x) => x.system === system && x.clients === clients);
  const rb = (system: string, test: string, config: string) => r.redisBenchmark.find((x) => x.system === system && x.test === test && x.config === config);
  const out: Target[] = [];
  for (const c of [64, 256]) {
    const a = w('raftkv', c);
    const b = w('etcd', c);
    if (!a || !b) {
      out.push({ name: `SET ops/s vs etcd at ${c} clients`, measured: 'not measured', goal: '>= 2x, p99 <= etcd', pass: null });
      continue;
    }
    const ratio = a.opsPerSec / b.opsPerSec;
    out.push({
      name: `SET ops/s vs etcd at ${c} clients`,
      measured: `${ratio.toFixed(2)}x; p99 ${f1(a.p99Ms)} vs ${f1(b.p99Ms)} ms`,
      goal: '>= 2x, p99 <= etcd',
      pass: ratio >= 2 && a.p99Ms <= b.p99Ms,
    });
  }
  // Issue 15 target 2: the figure to steer by, from /proc in the same windows as the ops.
  for (const c of [64, 256]) {
    const a = w('raftkv', c);
    const b = w('etcd', c);
    const ra = a ? cpuPerOpUs(a) : Number.NaN;
    const rb = b ? cpuPerOpUs(b) : Number.NaN;
    const ok = Number.isFinite(ra) && Number.isFinite(rb);
    out.push({
      name: `CPU per SET (3 nodes) vs etcd, ${c} clients`,
      measured: ok ? `${(ra / rb).toFixed(2)}x (${f1(ra)} vs ${f1(rb)} us)` : `not measured${Number.isFinite(ra) ? ` (raftkv ${f1(ra)} us)` : ''}`,
      goal: '<= 0.5x',
      pass: ok ? ra / rb <= 0.5 : null,
    });
  }
  const one = w('raftkv', 1);
  out.push({
    name: 'single-client SET p50',
    measured: one ? `${one.p50Ms.toFixed(3)} ms (etcd ${w('etcd', 1)?.p50Ms.toFixed(3) ?? 'n/a'} ms)` : 'not measured',
    goal: '<= 0.5 ms',
    pass: one ? one.p50Ms <= 0.5 : null,
  });
  for (const [cfg, goal] of [
    ['-c 50 -P 16', 0.45],
    ['-c 50 -P 1', 0.9],
  ] as const) {
    const a = rb('raftkv', 'get', cfg);
    const b = rb('redis', 'get', cfg);
    const ratio = a && b ? a.opsPerSec / b.opsPerSec : Number.NaN;
    out.push({
      name: `GET ${cfg} vs Redis`,
      measured: a && b ? `${ratio.toFixed(2)}x (${f1(a.opsPerSec)} vs ${f1(b.opsPerSec)})` : 'not measured',
      goal: `>= ${goal}x`,
      pass: a && b ? ratio >= goal : null,
    });
  }
  // Issue 15's read target: the ceiling any Node.js front end reaches here, not Redis.
  for (const system of ['raftkv', 'raftkv-lease'] as const) {
    for (const cfg of ['-c 50 -P 16', '-c 50 -P 1'] as const) {
      const a = rb(system, 'get', cfg);
      const b = rb('node-ceiling', 'get', cfg);
      if (system === 'raftkv-lease' && !a) continue;
      const ratio = a && b ? a.opsPerSec / b.opsPerSec : Number.NaN;
      const name = `GET ${cfg} vs the Node ceiling${system === 'raftkv-lease' ? ', --read-mode lease' : ''}`;
      out.push({
        name,
        measured: a && b ? `${ratio.toFixed(2)}x (${f1(a.opsPerSec)} vs ${f1(b.opsPerSec)})` : 'not measured',
        goal: '>= 0.9x',
        pass: a && b ? ratio >= 0.9 : null,
      });
    }
  }
  // The option, not the default: the verdicts above are for ReadIndex reads.
  for (const [cfg, goal] of [
    ['-c 50 -P 16', 0.45],
    ['-c 50 -P 1', 0.9],
  ] as const) {
    const a = rb('raftkv-lease', 'get', cfg);
    const b = rb('redis', 'get', cfg);
    if (!a || !b) continue;
    const ratio = a.opsPerSec / b.opsPerSec;
    out.push({
      name: `GET ${cfg} vs Redis, --read-mode lease`,
      measured: `${ratio.toFixed(2)}x (${f1(a.opsPerSec)} vs ${f1(b.opsPerSec)})`,
      goal: `>= ${goal}x`,
      pass: ratio >= goal,
    });
  }
  const fo = r.failover;
  out.push({
    name: 'failover after kill -9 (median)',
    measured: fo ? `${f1(fo.killMedianMs)} ms` : 'not measured',
    goal: '<= 1000 ms',
    pass: fo ? fo.killMedianMs <= 1000 : null,
  });
  out.push({
    name: 'failover after SIGTERM (median)',
    measured: fo ? `${f1(fo.termMedianMs)} ms` : 'not measured',
    goal: '<= 100 ms',
    pass: fo ? fo.termMedianMs <= 100 : null,
  });
  out.push(electionTarget(r.elections));
  out.push(mixTarget(r.mixed));
  if (r.shards) out.push(shardCpuTarget(r.shards));
  const m = r.memory;
  const worst = m ? Math.max(...Object.values(m.raftkvRssMiB)) : Number.NaN;
  out.push({
    name: 'RSS per node vs Redis (largest node)',
    measured: m ? `${(worst / m.redisRssMiB).toFixed(2)}x (${worst.toFixed(0)} vs ${m.redisRssMiB.toFixed(0)} MiB)` : 'not measured (--memory)',
    goal: '<= 2x',
    pass: m ? worst / m.redisRssMiB <= 2 : null,
  });
  out.push(...typeTargets(r.types));
  return out;
}

/** CPU µs per op of one mix over all its rounds (the rounds interleave A/B, so drift hits both). */
export function mixCpuPerOp(rounds: LoadResult[], system: string): number {
  const mine = rounds.filter((x) => x.system === system && x.nodeCpu);
  const ops = mine.reduce((a, x) => a + x.ops, 0);
  const cpu = mine.reduce((a, x) => a + x.nodeCpu!.reduce((b, c) => b + c.user + c.system, 0), 0);
  return ops > 0 ? (cpu * 1e6) / ops : Number.NaN;
}

/** Issue 15 target 7, the mix: the cache mix's CPU per op over the same shares as strings only. */
export function mixTarget(rounds: LoadResult[] | undefined): Target {
  const cache = mixCpuPerOp(rounds ?? [], 'raftkv-cache');
  const strings = mixCpuPerOp(rounds ?? [], 'raftkv-strings');
  const ok = Number.isFinite(cache) && Number.isFinite(strings);
  return {
    name: 'CPU per op, cache mix vs strings only',
    measured: ok ? `${(cache / strings).toFixed(3)}x (${f1(cache)} vs ${f1(strings)} us)` : 'not measured',
    goal: '<= 1.05x',
    pass: ok ? cache / strings <= 1.05 : null,
  };
}

/** Issue 15 target 7, the shards: CPU per SET with 3 shards over 1 on the string path. */
export function shardCpuTarget(rows: ShardRow[]): Target {
  const one = shardCount(rows, 1);
  const three = shardCount(rows, 3);
  return {
    name: 'CPU per SET, 3 shards vs 1',
    measured: one && three ? cpuRatio(three, one, 3) : 'not measured (--shards 1,3)',
    goal: '<= 1.05x',
    pass: one && three ? three.cpuPerSetUs / one.cpuPerSetUs <= 1.05 : null,
  };
}
