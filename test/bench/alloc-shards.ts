/**
 * Where a sharded node's allocations go under the cluster-aware SET load (issue 13): the bytes
 * V8 allocates per SET drive the young-generation GC, and unlike CPU time they do not move with
 * the machine's load. Starts the compiled 3-node cluster with `--shards N` and V8's sampling
 * heap profiler on every node (heap-prof-preload.mjs, started by SIGUSR2 after a warm-up),
 * runs cluster-load.ts, stops the nodes, and prints the bytes allocated per SET, all nodes,
 * by function (self) and by calling function (inclusive).
 *
 *   npx tsx test/bench/alloc-shards.ts [--shards 9] [--clients 256] [--seconds 5] [--top 30]
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { waitShardLeaders } from '../support/shards.ts';
import type { ClusterLoadResult } from './load-result.ts';
import { cleanup, installSignalCleanup, run, tempDir } from './procs.ts';
import { buildRaftKV, startRaftKVWith } from './systems/raftkv.ts';

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '9' },
    clients: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '5' },
    top: { type: 'string', default: '30' },
  },
});
const LOAD = fileURLToPath(new URL('./cluster-load.ts', import.meta.url));

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const name = (n: HeapNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

installSignalCleanup();
try {
  const shards = Number(values.shards);
  const main = await buildRaftKV();
  const dir = tempDir('raftkv-bench-heap-');
  const preload = fileURLToPath(new URL('./heap-prof-preload.mjs', import.meta.url));
  const h = await startRaftKVWith(main, ['--shards', String(shards)], `--import ${preload}`, { RAFTKV_HEAP_PROF_DIR: dir });
  if (shards > 1) await waitShardLeaders(h);
  const args = ['--ports', h.nodes.map((n) => n.port).join(','), '--pids', h.nodes.map((n) => n.proc!.pid!).join(',')];
  await run(process.execPath, ['--import', 'tsx', LOAD, ...args, '--clients', values.clients, '--seconds', '3']);
  for (const n of h.nodes) n.proc!.kill('SIGUSR2');
  const out = await run(process.execPath, ['--import', 'tsx', LOAD, ...args, '--clients', values.clients, '--seconds', values.seconds, '--warmup', '0']);
  const load = JSON.parse(out.trim().split('\n').pop()!) as ClusterLoadResult;
  for (const n of h.nodes) await h.signal(n, 'SIGTERM');
  // The profile spans the load (connections included), so divide by every SET answered in it.
  const sets = load.answered;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  // Kept in test/bench/results/ (git-ignored) for DevTools or a closer look.
  const kept = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(kept, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.heapprofile'))) {
    copyFileSync(join(dir, f), join(kept, `alloc-shards${shards}-${stamp}-${f}`));
    const walk = (n: HeapNode, stack: string[]): number => {
      const k = name(n);
      self.set(k, (self.get(k) ?? 0) + n.selfSize);
      let sum = n.selfSize;
      for (const c of n.children) sum += walk(c, [...stack, k]);
      if (!stack.includes(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + sum);
      return sum;
    };
    total += walk((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { head: HeapNode }).head, []);
  }
  const per = (b: number) => (b / sets).toFixed(0).padStart(7);
  console.log(`--shards ${shards}: ${load.opsPerSec.toFixed(0)} SET/s, ${sets} SETs; bytes allocated per SET, all nodes: ${per(total).trim()}`);
  console.log('\nself:');
  for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${per(b)}  ${k}`);
  console.log('\ninclusive:');
  for (const [k, b] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${per(b)}  ${k}`);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
