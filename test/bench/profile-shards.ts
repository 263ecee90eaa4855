/**
 * Where a sharded node's CPU goes under the cluster-aware SET load (issue 13): starts the
 * compiled 3-node cluster with `--shards N` and the V8 CPU profiler on every node
 * (cpu-prof-preload.mjs, started by SIGUSR2 once the leaders are where the map hints), runs
 * cluster-load.ts, stops the nodes with SIGTERM so V8 writes the profiles, and prints each
 * node's CPU per SET and its profile summary (profile-summary.ts). Compare `--shards 1` with
 * `--shards 3` to see what the shard path adds per SET.
 *
 * `--leaders-on n1` first hints every data group's leadership to one node (POST
 * /v1/shards/:id/transfer-leader), with the rebalancer off: the shard path without the spread,
 * to tell the two apart. `--no-profile` measures without the profiler's overhead.
 *
 *   npx tsx test/bench/profile-shards.ts [--shards 3] [--clients 256] [--seconds 8] [--top 25] [--node n1] [--leaders-on n1] [--no-profile]
 * The .cpuprofile files stay in test/bench/results/ (git-ignored) for Chrome DevTools.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { waitShardLeaders } from '../support/shards.ts';
import type { ClusterLoadResult } from './load-result.ts';
import { cleanup, installSignalCleanup, run, tempDir } from './procs.ts';
import { type Profile, summarize } from './profile-summary.ts';
import { buildRaftKV, CPU_PROF_PRELOAD, startRaftKVWith } from './systems/raftkv.ts';

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '3' },
    clients: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '8' },
    top: { type: 'string', default: '25' },
    node: { type: 'string' },
    'leaders-on': { type: 'string' },
    /** Measure only: no profiler (CPU per SET without its overhead, e.g. to compare --leaders-on). */
    'no-profile': { type: 'boolean', default: false },
  },
});
const LOAD = fileURLToPath(new URL('./cluster-load.ts', import.meta.url));

installSignalCleanup();
try {
  const shards = Number(values.shards);
  const main = await buildRaftKV();
  const profDir = tempDir('raftkv-bench-prof-');
  const on = values['leaders-on'];
  // The rebalancer would spread the leaders again within seconds.
  const args = ['--shards', String(shards), ...(on ? ['--rebalance', 'no'] : [])];
  const h = await startRaftKVWith(main, args, CPU_PROF_PRELOAD, { RAFTKV_CPU_PROF_DIR: profDir });
  if (shards > 1 && on) {
    for (let g = 1; g <= shards; g++) {
      const r = await h.fetch(h.url(await h.waitLeader(), `/v1/shards/${g}/transfer-leader`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ node: on }),
      });
      if (!r.ok) throw new Error(`transfer-leader ${g} to ${on}: ${r.status} ${await r.text()}`);
    }
  }
  // As shards.ts: wait until every group is led where the map hints.
  if (shards > 1) await waitShardLeaders(h);
  const loadArgs = ['--ports', h.nodes.map((n) => n.port).join(','), '--pids', h.nodes.map((n) => n.proc!.pid!).join(',')];
  // Warm up unprofiled, then profile a second run of the same load.
  await run(process.execPath, ['--import', 'tsx', LOAD, ...loadArgs, '--clients', values.clients, '--seconds', '3']);
  if (!values['no-profile']) for (const n of h.nodes) n.proc!.kill('SIGUSR2');
  const out = await run(process.execPath, ['--import', 'tsx', LOAD, ...loadArgs, '--clients', values.clients, '--seconds', values.seconds]);
  const load = JSON.parse(out.trim().split('\n').pop()!) as ClusterLoadResult;
  console.log(
    `--shards ${shards}${on ? ` --leaders-on ${on}` : ''}: ${load.opsPerSec.toFixed(0)} SET/s at ${load.clients} clients, p99 ${load.p99Ms.toFixed(1)} ms`,
  );
  const pids = h.nodes.map((n) => n.proc!.pid!);
  for (const n of h.nodes) await h.signal(n, 'SIGTERM');
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');
  h.nodes.forEach((n, i) => {
    const cpu = load.nodeCpu[i]!;
    const perSet = (s: number) => ((s * 1e6) / load.ops).toFixed(1);
    const io = load.nodeIo[i]!;
    const per = (x: number) => (x / load.ops).toFixed(2);
    console.log(
      `${n.id}: CPU per SET ${perSet(cpu.user + cpu.system)} us (user ${perSet(cpu.user)}, system ${perSet(cpu.system)}; main thread ${perSet(cpu.main)}), answered ${load.nodeOps[i]} SETs; per SET: ${per(io.syscr)} reads, ${per(io.syscw)} writes, ${per(io.wchar)} bytes written`,
    );
  });
  const total = load.nodeCpu.reduce((sum, c) => sum + c.user + c.system, 0);
  const mainThreads = load.nodeCpu.reduce((sum, c) => sum + c.main, 0);
  console.log(`all nodes: CPU per SET ${((total * 1e6) / load.ops).toFixed(1)} us (main threads ${((mainThreads * 1e6) / load.ops).toFixed(1)})`);
  for (const [i, n] of h.nodes.entries()) {
    if (values['no-profile'] || (values.node && values.node !== n.id)) continue;
    const kept = join(dir, `shards${shards}-${n.id}-${stamp}.cpuprofile`);
    copyFileSync(join(profDir, `${pids[i]}.cpuprofile`), kept);
    console.log(`\n== ${n.id} (${kept})\n${summarize(JSON.parse(readFileSync(kept, 'utf8')) as Profile, Number(values.top))}`);
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
