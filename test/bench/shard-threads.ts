/**
 * Where a sharded cluster's CPU per SET goes, by thread, without a profiler in the way (issue
 * 13): for each shard count (repeat counts to alternate them, `--shards 1,9,1,9`), a fresh
 * compiled 3-node cluster, a warm-up load (`--warmup`, 3 s as in shards.ts), then a measured load of cluster-load.ts. Around
 * the measured one: each node thread's CPU (/proc/<pid>/task/<tid>/stat), context switches
 * (../status), peer messages and frames and the GC pauses by kind (/metrics:
 * nodejs_gc_duration_seconds, group 0's registry), summed over the three nodes and divided by
 * the SETs answered in the window. Minor collections per SET follow the bytes allocated per SET
 * (alloc-shards.ts), and unlike CPU time they hardly move with the machine's load.
 *
 * Every thread of a node is named "node"; they are told apart by creation order, the same in
 * every node of one build (Node 20): `main`; t1, the platform's delayed-task thread; t2..t5,
 * V8's platform workers (parallel scavenges, concurrent marking and sweeping, compiler jobs);
 * t6, the inspector's signal thread; t7..t10, libuv's pool (LevelDB's batch writes and fsyncs);
 * t11, LevelDB's compaction thread.
 *
 *   npx tsx test/bench/shard-threads.ts [--shards 1,9] [--clients 256] [--seconds 5] [--warmup 3]
 *     [--args="--log-memory-entries 128"]   node flags for every node
 *     [--v8="--no-parallel-scavenge"]       V8 flags set in every node at start (v8-flags-preload.mjs);
 *                                           with --trace-opt/--trace-deopt/--trace-gc-nvp, their summary (v8-traces.ts)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { waitShardLeaders } from '../support/shards.ts';
import type { ClusterLoadResult } from './load-result.ts';
import { metricSum } from './metrics-text.ts';
import { cleanup, installSignalCleanup, run } from './procs.ts';
import { buildRaftKV, startRaftKV, startRaftKVWith } from './systems/raftkv.ts';
import { gcSummary, optimizations } from './v8-traces.ts';

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '1,9' },
    clients: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    args: { type: 'string', default: '' },
    v8: { type: 'string', default: '' },
  },
});
const LOAD = fileURLToPath(new URL('./cluster-load.ts', import.meta.url));
const GC_KINDS = ['minor', 'major', 'incremental'] as const;

/** CPU seconds per thread, keyed by creation order (see above). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  const tids = readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
  for (const [i, tid] of tids.entries()) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(') ') + 2).split(' ');
      out.set(i === 0 ? 'main' : `t${i}`, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Context switches of all the process's threads (its own status line counts the main thread only). */
function switches(pid: number): { voluntary: number; involuntary: number } {
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(t)?.[1] ?? 0);
      involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(t)?.[1] ?? 0);
    } catch {
      // As above.
    }
  }
  return { voluntary, involuntary };
}

type Cluster = Awaited<ReturnType<typeof startRaftKV>>;

async function counters(h: Cluster) {
  const texts = await Promise.all(h.nodes.map((n) => h.fetch(h.url(n, '/metrics')).then((r) => r.text())));
  const sum = (name: string) => texts.reduce((a, t) => a + metricSum(t, name), 0);
  return {
    messages: sum('raftkv_network_peer_messages_sent_total'),
    frames: sum('raftkv_network_peer_frames_sent_total'),
    gcCount: GC_KINDS.map((k) => texts.reduce((a, t) => a + gcSeries(t, 'count', k), 0)),
    gcSeconds: GC_KINDS.map((k) => texts.reduce((a, t) => a + gcSeries(t, 'sum', k), 0)),
  };
}

function gcSeries(text: string, what: 'count' | 'sum', kind: string): number {
  return Number(new RegExp(`^nodejs_gc_duration_seconds_${what}\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

async function measure(main: string, shards: number): Promise<void> {
  const args = ['--shards', String(shards), ...values.args.split(' ').filter(Boolean)];
  const preload = `--import ${fileURLToPath(new URL('./v8-flags-preload.mjs', import.meta.url))}`;
  const h = values.v8 ? await startRaftKVWith(main, args, preload, { RAFTKV_V8_FLAGS: values.v8 }) : await startRaftKV(main, args);
  try {
    if (shards > 1) await waitShardLeaders(h);
    const pids = h.nodes.map((n) => n.proc!.pid!);
    const args = ['--ports', h.nodes.map((n) => n.port).join(','), '--pids', pids.join(','), '--clients', values.clients];
    await run(process.execPath, ['--import', 'tsx', LOAD, ...args, '--seconds', values.warmup, '--warmup', '0']);
    const load0 = loadavg()[0]!;
    const [c0, t0, s0] = [await counters(h), pids.map(threadCpu), pids.map(switches)];
    const out = await run(process.execPath, ['--import', 'tsx', LOAD, ...args, '--seconds', values.seconds, '--warmup', '0']);
    const [t1, s1, c1] = [pids.map(threadCpu), pids.map(switches), await counters(h)];
    const sets = (JSON.parse(out.trim().split('\n').pop()!) as ClusterLoadResult).answered;
    const byThread = new Map<string, number>();
    pids.forEach((_, i) => {
      for (const [name, s] of t1[i]!) byThread.set(name, (byThread.get(name) ?? 0) + s - (t0[i]!.get(name) ?? 0));
    });
    const us = (s: number) => ((s * 1e6) / sets).toFixed(1);
    const per = (x: number) => (x / sets).toFixed(3);
    const total = [...byThread.values()].reduce((a, b) => a + b, 0);
    const threads = [...byThread]
      .filter(([, s]) => s > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([n, s]) => `${n} ${us(s)}`);
    const switched = (k: 'voluntary' | 'involuntary') => s1.reduce((a, s, i) => a + s[k] - s0[i]![k], 0);
    console.log(
      `shards ${shards} (load ${load0.toFixed(1)}): ${sets} SETs, ${(sets / Number(values.seconds) / 1000).toFixed(1)}k/s; CPU us/SET ${us(total)}: ${threads.join(', ')}`,
    );
    console.log(
      `  per SET: peer messages ${per(c1.messages - c0.messages)}, frames ${per(c1.frames - c0.frames)}; ` +
        `context switches ${per(switched('voluntary'))} voluntary, ${per(switched('involuntary'))} involuntary`,
    );
    const gc = GC_KINDS.map(
      (k, i) =>
        `${k} ${((1000 * (c1.gcCount[i]! - c0.gcCount[i]!)) / sets).toFixed(2)} / ${((1e6 * (c1.gcSeconds[i]! - c0.gcSeconds[i]!)) / sets).toFixed(1)} ms`,
    );
    console.log(`  GC per 1000 SETs (collections / main-thread pause): ${gc.join(', ')}`);
    if (values.v8.includes('--trace-')) {
      const logs = h.nodes.map((n) => n.logFile);
      for (const [k, c] of optimizations(logs, 20)) console.log(`  ${String(c).padStart(6)} ${k}`);
      for (const line of gcSummary(logs)) console.log(`  ${line}`);
    }
  } finally {
    await h.stop();
  }
}

installSignalCleanup();
try {
  const main = await buildRaftKV();
  for (const shards of values.shards.split(',').map(Number)) await measure(main, shards);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
