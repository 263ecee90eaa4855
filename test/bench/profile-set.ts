/**
 * Where does a RaftKV leader spend its CPU under the replicated SET load? Starts a 3-node
 * cluster with the V8 CPU profiler on (cpu-prof-preload.mjs; same data as `node --cpu-prof`), drives the leader with the closed-loop SET generator,
 * (profiling only the load: the leader gets SIGUSR2 when it starts), stops the nodes with SIGTERM (so V8 writes the profiles), and prints the leader's top
 * self-time functions and the share per source area.
 *
 *   npx tsx test/bench/profile-set.ts [--clients 64] [--seconds 10] [--top 25] [--node leader|follower]
 * The .cpuprofile stays in test/bench/results/ (git-ignored) for Chrome DevTools.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanup, installSignalCleanup, tempDir } from './procs.ts';
import { buildRaftKV, CPU_PROF_PRELOAD, raftkvLoad, startRaftKVWith } from './systems/raftkv.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' },
    node: { type: 'string', default: 'leader' },
  },
});

/** Buckets a frame by where its code lives, so the summary says which layer costs what. */
function area(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native/V8)';
  const m = /\/src\/([a-z-]+)\//.exec(url);
  if (m && !url.includes('node_modules')) return `src/${m[1]}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return `npm:${mod[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}

function summarize(p: Profile, top: number): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const s of p.samples) self.set(s, (self.get(s) ?? 0) + 1);
  const total = p.samples.length;
  const fnTotals = new Map<string, number>();
  const areaTotals = new Map<string, number>();
  for (const [id, count] of self) {
    const cf = byId.get(id)!.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;
    fnTotals.set(key, (fnTotals.get(key) ?? 0) + count);
    const a = area(cf.url, cf.functionName);
    areaTotals.set(a, (areaTotals.get(a) ?? 0) + count);
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;
  const lines = [`${total} samples`, '', 'self time by area:'];
  for (const [a, n] of [...areaTotals].sort((x, y) => y[1] - x[1]).slice(0, 15)) lines.push(`  ${pct(n)}  ${a}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [f, n] of [...fnTotals].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(n)}  ${f}`);
  return lines.join('\n');
}

/** Mean batch-write (fsync) time and batch count since start, from the node's Prometheus histogram. */
async function fsyncSummary(url: string): Promise<string> {
  const text = await (await fetch(url)).text();
  const num = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const sum = num('raftkv_disk_fsync_duration_seconds_sum');
  const count = num('raftkv_disk_fsync_duration_seconds_count');
  return `${count} fsynced batches, mean ${((sum / count) * 1000).toFixed(2)} ms`;
}

installSignalCleanup();
try {
  const profDir = tempDir('raftkv-bench-prof-');
  const h = await startRaftKVWith(await buildRaftKV(), [], CPU_PROF_PRELOAD, { RAFTKV_CPU_PROF_DIR: profDir });
  const leader = await h.waitLeader();
  const profiled = values.node === 'follower' ? h.nodes.find((n) => n !== leader)! : leader;
  profiled.proc!.kill('SIGUSR2');
  const load = await raftkvLoad(leader, Number(values.clients), Number(values.seconds));
  console.log(`load: ${load.opsPerSec.toFixed(0)} SET/s at ${load.clients} clients, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms`);
  for (const n of h.nodes) console.log(`${n.id}${n === leader ? ' (leader)' : ''}: ${await fsyncSummary(h.url(n, '/metrics'))}`);
  const pid = profiled.proc!.pid!;
  for (const n of h.nodes) await h.signal(n, 'SIGTERM');
  const file = readdirSync(profDir).find((f) => f === `${pid}.cpuprofile`);
  if (!file) throw new Error(`no profile for ${values.node} pid ${pid} in ${profDir}: ${readdirSync(profDir).join(', ')}`);
  const out = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  const kept = join(out, `${values.node}-set-${new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '')}.cpuprofile`);
  copyFileSync(join(profDir, file), kept);
  console.log(summarize(JSON.parse(readFileSync(kept, 'utf8')) as Profile, Number(values.top)));
  console.log(`\nprofile: ${kept}`);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
