/**
 * One chaos run: start the cluster in its namespaces, drive the workload while the nemeses
 * strike, heal, let the cluster recover, read everything back, check, and write the report.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Anomaly, describe, smallest } from './check/result.ts';
import { elapsed, sleep } from './clock.ts';
import { ChaosCluster } from './cluster/cluster.ts';
import type { ChaosOp } from './history/ops.ts';
import { Recorder } from './history/recorder.ts';
import type { NemesisContext } from './nemesis/nemeses.ts';
import { ShardChanges } from './nemesis/reshard.ts';
import { Scheduler } from './nemesis/scheduler.ts';
import type { ChaosOptions } from './options.ts';
import { Random } from './random.ts';
import { buildSummary, type Summary, summaryLines, writeSummary } from './report/summary.ts';
import { writeTimeline } from './report/timeline.ts';
import { CounterWorkload } from './workload/counter.ts';
import { type QueuePop, QueueWorkload } from './workload/queue.ts';
import { RegisterWorkload } from './workload/register.ts';
import { LoadRunner } from './workload/runner.ts';
import { TtlWorkload } from './workload/ttl.ts';
import type { Workload, WorkloadName } from './workload/workload.ts';

export class SetupError extends Error {
  override name = 'SetupError';
}

/** Debian's `faketime` package puts the preload library under the multiarch directory. */
export function findFaketime(): string | undefined {
  const dirs = [
    '/usr/lib',
    ...(existsSync('/usr/lib')
      ? readdirSync('/usr/lib')
          .filter((d) => d.endsWith('-linux-gnu'))
          .map((d) => `/usr/lib/${d}`)
      : []),
  ];
  for (const d of dirs) {
    const lib = join(d, 'faketime', 'libfaketimeMT.so.1');
    if (existsSync(lib)) return lib;
  }
  return undefined;
}

export function makeWorkload(name: WorkloadName, skewMs: number, queuePop: QueuePop = 'mixed'): Workload {
  switch (name) {
    case 'register':
      return new RegisterWorkload();
    case 'counter':
      return new CounterWorkload();
    case 'ttl':
      return new TtlWorkload(skewMs);
    case 'queue':
      return new QueueWorkload(queuePop);
  }
}

export interface RunResult {
  dir: string;
  summary: Summary;
}

/** Set while a run owns processes and network state, so signal handlers can tear it down. */
export let activeCluster: ChaosCluster | undefined;

export async function runChaos(o: ChaosOptions, log: (line: string) => void): Promise<RunResult> {
  const startedAt = new Date();
  const dir = join(o.resultsDir, startedAt.toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  let faketimeLib: string | undefined;
  if (o.nemesis.includes('clock')) {
    faketimeLib = findFaketime();
    if (!faketimeLib) throw new SetupError('the clock nemesis needs libfaketime: apt-get install -y faketime');
  }
  const rnd = new Random(o.seed);
  let waited = false;
  const cluster = new ChaosCluster({
    nodes: o.nodes,
    shards: o.shards,
    dir,
    extraArgs: [
      '--read-mode',
      o.readMode,
      '--tick-ms',
      String(o.tickMs),
      '--snapshot-entries',
      String(o.snapshotEntries),
      '--snapshot-keep-entries',
      String(Math.ceil(o.snapshotEntries / 5)),
    ],
    faketimeLib,
    loopDisks: o.nemesis.includes('power'),
    log,
    onWait: (owner) => {
      if (!waited) log(`waiting for the chaos run of pid ${owner} to release the network`);
      waited = true;
    },
  });
  activeCluster = cluster;
  const rec = new Recorder(join(dir, 'history.jsonl'));
  const workload = makeWorkload(o.workload, o.nemesis.includes('clock') ? o.maxSkewMs : 0, o.queuePop);
  const load = new LoadRunner(workload, cluster, rec, rnd.fork(), {
    concurrency: o.concurrency,
    rate: o.rate,
    timeoutMs: o.timeoutMs,
    connectTimeoutMs: 1000,
    followerReads: o.followerReads,
  });
  const changes = new ShardChanges();
  const ctx: NemesisContext = {
    cluster,
    load,
    rnd: rnd.fork(),
    maxSkewMs: o.maxSkewMs,
    changes,
    log: (l) => log(`[${(elapsed() / 1000).toFixed(1)}s] ${l}`),
  };
  const harness: Anomaly[] = [];
  let loadStart = 0;
  let loadEnd = 0;
  let recovered = false;
  let finalReadsComplete = false;
  try {
    log(
      `run ${dir}: ${o.nodes} nodes${o.shards > 1 ? ` (${o.shards} shards)` : ''}, ${o.time}s, nemesis ${o.nemesis.join(',')}, workload ${o.workload}${o.workload === 'queue' ? ` (pop ${o.queuePop})` : ''}, seed ${o.seed}`,
    );
    await cluster.start();
    if (!(await cluster.waitHealthy(60_000))) throw new SetupError('the cluster did not elect a leader within 60 s of starting');
    cluster.startPolling();
    loadStart = elapsed();
    load.start();
    const scale = Math.min(1, o.time / 60);
    const scheduler = new Scheduler(ctx, o.nemesis, {
      endAt: loadStart + o.time * 1000,
      healthyMs: [Math.round(2000 * scale), Math.round(4000 * scale) + 1000],
      faultMs: [Math.round(3000 * scale) + 1000, Math.round(7000 * scale) + 1000],
      overlap: o.overlap,
    });
    try {
      await scheduler.run();
    } finally {
      await scheduler.healCurrent();
    }
    cluster.heal();
    for (const n of cluster.memberNodes()) n.resume();
    for (const n of cluster.memberNodes()) if (!n.running) n.start();
    await load.stop();
    loadEnd = elapsed();
    if (changes.log.length > 0) {
      // A move still in flight ends (or gives up, after 120 s) on its own.
      ctx.log('faults healed, load stopped; waiting (30 s at most) for the shard changes in flight');
      if (!(await changes.settle(30_000))) ctx.log('a shard change is still in flight: recovery and final reads go on around it');
      ctx.log(`shard changes: ${JSON.stringify(changes.counts())}`);
    }
    ctx.log('faults healed, load stopped; waiting for recovery');
    recovered = await cluster.waitHealthy(30_000);
    await sleep(workload.finalDelayMs(elapsed()));
    finalReadsComplete = await load.final(30_000);
    await cluster.stopPolling();
    const windows = scheduler.windows;
    rec.close();
    cluster.teardown();
    activeCluster = undefined;

    if (!recovered)
      harness.push({ kind: 'no-recovery', message: 'the cluster did not converge (one leader, all members caught up) within 30 s of healing', ops: [] });
    if (!finalReadsComplete) harness.push({ kind: 'final-reads-unanswered', message: 'some final reads got no answer within 30 s', ops: [] });
    for (const e of cluster.unexpectedExits) {
      harness.push({
        kind: 'node-crash',
        key: e.node,
        message: `${e.node} exited on its own at ${e.t} ms (code ${e.code}, signal ${e.signal}); see logs/${e.node}.log`,
        ops: [],
      });
    }
    ctx.log(`checking ${rec.ops.length} operations`);
    const check = workload.check(rec.ops);
    const summary = buildSummary(
      {
        startedAt: startedAt.toISOString(),
        seed: o.seed,
        nodes: o.nodes,
        shards: o.shards,
        timeS: o.time,
        nemesis: o.nemesis,
        workload: o.workload,
        concurrency: o.concurrency,
        rate: o.rate,
        readMode: o.readMode,
        tickMs: o.tickMs,
        followerReads: o.followerReads,
        overlap: o.overlap,
        maxSkewMs: o.nemesis.includes('clock') ? o.maxSkewMs : 0,
        durationMs: Math.round(Date.now() - startedAt.getTime()),
      },
      rec.ops,
      windows,
      { start: loadStart, end: loadEnd },
      [check],
      { recovered, finalReadsComplete, unexpectedExits: cluster.unexpectedExits, members: cluster.members, roles: cluster.roles },
      harness,
    );
    if (changes.log.length > 0) summary.shardChanges = { counts: changes.counts(), changes: changes.log };
    writeSummary(join(dir, 'summary.json'), summary);
    writeTimeline(join(dir, 'timeline.svg'), {
      title: `${o.workload} / ${o.nemesis.join(',')} / ${o.nodes} nodes${o.shards > 1 ? `, ${o.shards} shards` : ''} / seed ${o.seed}: ${summary.valid ? 'valid' : 'INVALID'}`,
      ops: rec.ops,
      windows,
      roles: cluster.roles,
      nodes: [...cluster.all.keys()],
      end: elapsed(),
    });
    if (summary.valid && !o.keepData) rmSync(join(dir, 'data'), { recursive: true, force: true });
    for (const line of summaryLines(summary)) log(line);
    log(`report: ${dir}`);
    return { dir, summary };
  } catch (err) {
    writeFileSync(join(dir, 'harness-error.txt'), `${(err as Error).stack ?? String(err)}\n`);
    throw err;
  } finally {
    rec.close();
    cluster.teardown();
    activeCluster = undefined;
  }
}

/** Checks a stored run again (`--check DIR`): its history with the workload and skew bound of its summary. */
export function recheck(dir: string, log: (line: string) => void): boolean {
  const run = (JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary).run;
  const ops = readFileSync(join(dir, 'history.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ChaosOp);
  const result = makeWorkload(run.workload as WorkloadName, run.maxSkewMs).check(ops);
  log(`check ${result.checker} of ${ops.length} operations: ${JSON.stringify(result.stats)}`);
  for (const a of result.anomalies.slice(0, 20)) log(`${a.kind}: ${a.message}`);
  const best = smallest(result.anomalies);
  if (best) log(best.text ?? best.ops.map(describe).join('\n'));
  return result.valid;
}
