/** summary.json: counts, availability per fault window, the checks' verdicts and the counterexample. */
import { writeFileSync } from 'node:fs';
import { type Anomaly, type CheckResult, describe, smallest } from '../check/result.ts';
import type { RoleSample, UnexpectedExit } from '../cluster/cluster.ts';
import type { ChaosOp } from '../history/ops.ts';
import type { ShardChange } from '../nemesis/reshard.ts';
import type { FaultWindow } from '../nemesis/scheduler.ts';

export interface Counts {
  ops: number;
  ok: number;
  fail: number;
  info: number;
  /** ok / ops; null for a window without operations. */
  availability: number | null;
}

export function counts(ops: readonly ChaosOp[]): Counts {
  const c = { ops: ops.length, ok: 0, fail: 0, info: 0 };
  for (const o of ops) c[o.status]++;
  return { ...c, availability: c.ops === 0 ? null : Math.round((1000 * c.ok) / c.ops) / 1000 };
}

export interface WindowStats extends Counts {
  name: string;
  detail: string;
  start: number;
  end: number;
}

/** Ops by the window in which they were invoked: each fault window, and the healthy stretches between. */
export function windowStats(ops: readonly ChaosOp[], windows: readonly FaultWindow[], loadStart: number, loadEnd: number): WindowStats[] {
  const load = ops.filter((o) => !o.final);
  const out: WindowStats[] = [];
  let t = loadStart;
  const add = (name: string, detail: string, start: number, end: number) => {
    if (end <= start) return;
    out.push({ name, detail, start, end, ...counts(load.filter((o) => o.call >= start && o.call < end)) });
  };
  for (const w of [...windows].sort((a, b) => a.start - b.start)) {
    add('healthy', '', t, w.start);
    add(`${w.nemesis}: ${w.kind}`, w.error ?? w.detail, w.start, w.end);
    t = Math.max(t, w.end);
  }
  add('healthy', '', t, loadEnd);
  return out;
}

export interface RunInfo {
  startedAt: string;
  seed: number;
  nodes: number;
  /** Data groups; absent in runs before `--shards`. */
  shards?: number;
  timeS: number;
  nemesis: string[];
  workload: string;
  concurrency: number;
  rate: number;
  readMode: string;
  tickMs: number;
  followerReads: boolean;
  overlap: boolean;
  maxSkewMs: number;
  durationMs: number;
}

export interface ClusterReport {
  recovered: boolean;
  finalReadsComplete: boolean;
  unexpectedExits: UnexpectedExit[];
  members: string[];
  roles: RoleSample[];
}

export interface Summary {
  valid: boolean;
  run: RunInfo;
  totals: Counts;
  byFunction: Record<string, Counts>;
  windows: WindowStats[];
  checks: { checker: string; valid: boolean; stats: Record<string, number>; anomalies: number }[];
  anomalies: { kind: string; key?: string; message: string; ops: string[] }[];
  counterexample: { kind: string; key?: string; message: string; ops: string[]; text?: string } | null;
  cluster: ClusterReport;
  faults: FaultWindow[];
  /** The reshard nemesis's changes: counts by kind and outcome, and each with its answer. */
  shardChanges?: { counts: Record<string, Record<string, number>>; changes: ShardChange[] };
}

const show = (a: Anomaly) => ({ kind: a.kind, key: a.key, message: a.message, ops: a.ops.map(describe) });

export function buildSummary(
  run: RunInfo,
  ops: readonly ChaosOp[],
  windows: readonly FaultWindow[],
  load: { start: number; end: number },
  checks: readonly CheckResult[],
  cluster: ClusterReport,
  harness: Anomaly[],
): Summary {
  const anomalies = [...checks.flatMap((c) => c.anomalies), ...harness];
  const byFunction: Record<string, Counts> = {};
  for (const f of new Set(ops.map((o) => o.f))) byFunction[f] = counts(ops.filter((o) => o.f === f));
  const best = smallest(anomalies);
  return {
    valid: anomalies.length === 0,
    run,
    totals: counts(ops),
    byFunction,
    windows: windowStats(ops, windows, load.start, load.end),
    checks: checks.map((c) => ({ checker: c.checker, valid: c.valid, stats: c.stats, anomalies: c.anomalies.length })),
    anomalies: anomalies.slice(0, 50).map(show),
    counterexample: best ? { ...show(best), text: best.text } : null,
    cluster,
    faults: [...windows],
  };
}

export function writeSummary(file: string, s: Summary): void {
  writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`);
}

/** The few lines printed at the end of a run (the caller prints `valid: ...` last). */
export function summaryLines(s: Summary): string[] {
  const pct = (c: Counts) => (c.availability === null ? '-' : `${(c.availability * 100).toFixed(1)}%`);
  const lines = [`ops: ${s.totals.ops} (ok ${s.totals.ok}, fail ${s.totals.fail}, info ${s.totals.info})`, 'availability per window:'];
  for (const w of s.windows) {
    lines.push(
      `  ${(w.start / 1000).toFixed(1).padStart(6)}s-${(w.end / 1000).toFixed(1).padEnd(6)} ${w.name.padEnd(28)} ${String(w.ops).padStart(5)} ops ${pct(w).padStart(6)}  ${w.detail}`,
    );
  }
  if (s.shardChanges) lines.push(`shard changes: ${JSON.stringify(s.shardChanges.counts)}`);
  for (const c of s.checks) lines.push(`check ${c.checker}: ${c.valid ? 'ok' : `${c.anomalies} anomalies`} ${JSON.stringify(c.stats)}`);
  if (!s.cluster.recovered) lines.push('cluster did not recover after the faults were healed');
  for (const e of s.cluster.unexpectedExits) lines.push(`node ${e.node} exited unexpectedly at ${e.t} ms (code ${e.code}, signal ${e.signal})`);
  if (s.counterexample) {
    lines.push(`counterexample (${s.counterexample.kind}): ${s.counterexample.message}`);
    lines.push(...(s.counterexample.text ? s.counterexample.text.split('\n') : s.counterexample.ops.map((o) => `  ${o}`)));
  }
  return lines;
}
