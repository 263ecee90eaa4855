/**
 * Linearizable GET on the RaftKV leader against a real redis-server, measured in the same
 * minute, with the leader's CPU profile for the measured runs. Starts a 3-node cluster (the
 * profiler preloaded but idle, see cpu-prof-preload.mjs) and a redis-server without
 * persistence, fills both with `redis-benchmark -t set`, warms the leader up, then runs
 * `redis-benchmark -t get` against each in turn for --rounds rounds and prints ops/s, the
 * ratio, each server's CPU time per request (user + system, from /proc: less sensitive to
 * machine load than ops/s) and the load average. Then the profiler starts (SIGUSR2) for one more RaftKV GET run,
 * so the profile holds that load only and the ratios carry no profiler overhead.
 *
 *   npx tsx test/bench/profile-get.ts [--clients 50] [--pipeline 16 (or 1)] [--requests 500000]
 *                                     [--rounds 2] [--top 25] [--no-profile] [--lease]
 * --lease starts the nodes with --read-mode lease.
 * The .cpuprofile stays in test/bench/results/ (git-ignored) for Chrome DevTools.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanup, installSignalCleanup, run, tempDir } from './procs.ts';
import { type Profile, summarize } from './profile-summary.ts';
import { RB_CONFIGS, type RbConfig, redisBenchmark } from './redis-benchmark.ts';
import { startRaftKV } from './systems/raftkv.ts';
import { startRedis } from './systems/redis.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    pipeline: { type: 'string', default: '16' },
    requests: { type: 'string', default: '500000' },
    rounds: { type: 'string', default: '2' },
    top: { type: 'string', default: '25' },
    'no-profile': { type: 'boolean', default: false },
    lease: { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
const pipeline = Number(values.pipeline);
const requests = Number(values.requests);
const profile = !values['no-profile'];
const cfg = RB_CONFIGS.find((c) => c.clients === clients && c.pipeline === pipeline);
if (cfg === undefined) throw new Error(`--clients/--pipeline must be one of the bench's: ${RB_CONFIGS.map((c) => c.label).join(', ')}`);

/** Writes every key GET will ask for (-r 100000 draws from the same space), 16-byte values. */
async function fill(port: number): Promise<void> {
  await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-n', '200000', '-r', '100000', '-d', '16', '-c', '50', '-P', '16', '-q']);
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs one GET load and reports it with the CPU microseconds the server spent per request. */
async function measured(system: string, port: number, pid: number, config: RbConfig) {
  const before = cpuSeconds(pid);
  const r = await redisBenchmark(system, port, 'get', config, requests);
  return { ...r, cpuUsPerOp: ((cpuSeconds(pid) - before) * 1e6) / requests };
}

const loadAverage = (): string =>
  execFileSync('uptime', { encoding: 'utf8' })
    .trim()
    .replace(/^.*load average/, 'load average');

installSignalCleanup();
try {
  const profDir = tempDir('raftkv-bench-prof-');
  if (profile) {
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${fileURLToPath(new URL('./cpu-prof-preload.mjs', import.meta.url))}`.trim();
    process.env.RAFTKV_CPU_PROF_DIR = profDir;
  }
  const h = await startRaftKV(undefined, values.lease ? ['--read-mode', 'lease'] : []);
  delete process.env.NODE_OPTIONS;
  delete process.env.RAFTKV_CPU_PROF_DIR;
  const redis = await startRedis('redis', false);
  const leader = await h.waitLeader();
  await fill(leader.port);
  await fill(redis.port);
  // Warm-up: the leader's GET path gets optimized before anything is measured.
  await redisBenchmark('raftkv', leader.port, 'get', cfg, Math.min(requests, 200000));
  for (let round = 1; round <= Number(values.rounds); round++) {
    const r = await measured('redis', redis.port, redis.proc.pid!, cfg);
    const k = await measured('raftkv', leader.port, leader.proc!.pid!, cfg);
    console.log(
      `round ${round} GET ${cfg.label}: raftkv ${k.opsPerSec.toFixed(0)}/s (p50 ${k.p50Ms} ms, ${k.cpuUsPerOp.toFixed(2)} us CPU/op),` +
        ` redis ${r.opsPerSec.toFixed(0)}/s (p50 ${r.p50Ms} ms, ${r.cpuUsPerOp.toFixed(2)} us CPU/op),` +
        ` ratio ${(k.opsPerSec / r.opsPerSec).toFixed(3)}; ${loadAverage()}`,
    );
  }
  if (profile) {
    leader.proc!.kill('SIGUSR2');
    const k = await redisBenchmark('raftkv', leader.port, 'get', cfg, requests);
    console.log(`profiled run: raftkv ${k.opsPerSec.toFixed(0)}/s; ${loadAverage()}`);
  }
  const pid = leader.proc!.pid!;
  for (const n of h.nodes) await h.signal(n, 'SIGTERM');
  if (profile) {
    const file = readdirSync(profDir).find((f) => f === `${pid}.cpuprofile`);
    if (!file) throw new Error(`no profile for leader pid ${pid} in ${profDir}: ${readdirSync(profDir).join(', ')}`);
    const out = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(out, { recursive: true });
    const kept = join(out, `leader-get-${new Date().toISOString().replaceAll(':', '-').replace(/\..*/, '')}.cpuprofile`);
    copyFileSync(join(profDir, file), kept);
    console.log(summarize(JSON.parse(readFileSync(kept, 'utf8')) as Profile, Number(values.top)));
    console.log(`\nprofile: ${kept}`);
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
