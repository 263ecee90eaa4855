/**
 * GET on the RaftKV leader against the two references of issue 15, in the same minute:
 * redis-server, and the Node.js ceiling (systems/node-ceiling-server.mjs, a minimal Node RESP
 * server on a Map: the most any Node front end gets on this machine). RaftKV runs twice, as a
 * 3-node cluster with linearizable reads by ReadIndex (the default) and one with
 * `--read-mode lease`, both from the compiled build the image ships (buildRaftKV).
 *
 * Each system is filled with `redis-benchmark -t set`, RaftKV's leaders are warmed up, then
 * every round runs `redis-benchmark -t get` against each system in turn and prints ops/s, the
 * ratio to the ceiling and to Redis, and the CPU time per GET (user + system, from /proc: less
 * sensitive to machine load than ops/s) of the serving process and, for RaftKV, summed over the
 * two followers (a ReadIndex round costs them a heartbeat each, on the same cores), and the
 * frames the leader wrote to its peers per GET (how many reads a round serves).
 *
 * `--base DIR/cli/main.js` adds a second pair of RaftKV clusters running another compiled
 * build (say the previous commit, `tsc -p scripts/tsconfig.image.json --outDir DIR` in its
 * checkout); each round then runs base and current build one after the other, swapping which
 * goes first every round, so an A/B difference is measured under the same machine load.
 * With profiling on, the profiler then starts (SIGUSR2) on the
 * current build's ReadIndex leader (--profile-lease: the lease leader) for one more run, so the
 * profile holds that load only and the ratios carry no profiler overhead.
 *
 *   npx tsx test/bench/profile-get.ts [--clients 50] [--pipeline 16 (or 1)] [--requests 500000]
 *                                     [--rounds 2] [--top 25] [--no-profile] [--profile-lease]
 *                                     [--base DIR/cli/main.js]
 * The .cpuprofile stays in test/bench/results/ (git-ignored) for Chrome DevTools.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ClusterHarness, NodeHandle } from '../support/cluster-harness.ts';
import { metricSum } from './metrics-text.ts';
import { cleanup, cpuSeconds, installSignalCleanup, machineCpuSeconds, run, tempDir } from './procs.ts';
import { type Profile, summarize } from './profile-summary.ts';
import { RB_CONFIGS, type RbConfig, redisBenchmark } from './redis-benchmark.ts';
import { startNodeCeiling } from './systems/node-ceiling.ts';
import { buildRaftKV, CPU_PROF_PRELOAD, startRaftKV, startRaftKVWith } from './systems/raftkv.ts';
import { startRedis } from './systems/redis.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    pipeline: { type: 'string', default: '16' },
    requests: { type: 'string', default: '500000' },
    rounds: { type: 'string', default: '2' },
    top: { type: 'string', default: '25' },
    'no-profile': { type: 'boolean', default: false },
    'profile-lease': { type: 'boolean', default: false },
    base: { type: 'string' },
  },
});
const clients = Number(values.clients);
const pipeline = Number(values.pipeline);
const requests = Number(values.requests);
const profile = !values['no-profile'];
const cfg = RB_CONFIGS.find((c) => c.clients === clients && c.pipeline === pipeline);
if (cfg === undefined) throw new Error(`--clients/--pipeline must be one of the bench's: ${RB_CONFIGS.map((c) => c.label).join(', ')}`);

/** One system under the GET load: where it listens, who serves, and who else spends CPU on it. */
interface System {
  name: string;
  port: number;
  server: number;
  /** RaftKV's followers: their CPU per GET is the ReadIndex round's cost to the cluster. */
  others: number[];
  cluster?: ClusterHarness;
  /** RaftKV's leader: its peer frames per GET say how many reads a ReadIndex round serves. */
  leader?: NodeHandle;
}

/** Writes every key GET will ask for (-r 100000 draws from the same space), 16-byte values. */
async function fill(port: number): Promise<void> {
  await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-n', '200000', '-r', '100000', '-d', '16', '-c', '50', '-P', '16', '-q']);
}

const cpu = (pid: number): number => {
  const c = cpuSeconds(pid);
  return c.user + c.system;
};

/**
 * Runs `load` against `s`'s leader. On a loaded machine an election may move the leadership (the
 * run then fails with MOVED), or a fill's write time out: the leader is found again and the
 * load run again, twice at most.
 */
async function onLeader<T>(s: System, load: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (s.cluster) Object.assign(s, await roles(s.cluster));
    try {
      return await load();
    } catch (err) {
      if (!s.cluster || attempt === 2 || !/MOVED|outcome unknown|CLUSTERDOWN|TRYAGAIN/.test(String(err))) throw err;
      console.log(`${s.name}: ${/MOVED|outcome unknown|CLUSTERDOWN|TRYAGAIN/.exec(String(err))?.[0]}; again, on the leader`);
    }
  }
}

/** Runs one GET load and reports it with the CPU microseconds spent per request. */
async function measured(s: System, config: RbConfig) {
  const framesBefore = await peerFrames(s);
  const before = cpu(s.server);
  const othersBefore = s.others.map(cpu);
  const machineBefore = machineCpuSeconds();
  const r = await redisBenchmark(s.name, s.port, 'get', config, requests);
  const machine = machineCpuSeconds();
  const others = s.others.reduce((sum, pid, i) => sum + cpu(pid) - othersBefore[i], 0);
  const cpuUsPerOp = ((cpu(s.server) - before) * 1e6) / requests;
  const frames = (await peerFrames(s)) - framesBefore;
  // The whole machine (generator included): when busy is near 100 %, ops/s ratios between
  // systems are the inverse of these per-GET figures, whatever the latency.
  const busy = (machine.busy - machineBefore.busy) / (machine.total - machineBefore.total);
  const machineUsPerOp = ((machine.busy - machineBefore.busy) * 1e6) / requests;
  return { ...r, cpuUsPerOp, othersUsPerOp: (others * 1e6) / requests, framesPerOp: frames / requests, busy, machineUsPerOp };
}

const loadAverage = (): string =>
  execFileSync('uptime', { encoding: 'utf8' })
    .trim()
    .replace(/^.*load average/, 'load average');

const pidOf = (n: { proc?: { pid?: number } }): number => n.proc?.pid as number;

async function roles(h: ClusterHarness): Promise<Pick<System, 'port' | 'server' | 'others' | 'leader'>> {
  const leader = await h.waitLeader();
  return { port: leader.port, server: pidOf(leader), others: h.nodes.filter((n) => n.id !== leader.id).map(pidOf), leader };
}

/** Frames the leader wrote to its peers (batches and coalesced heartbeats); 0 for the references. */
async function peerFrames(s: System): Promise<number> {
  if (!s.cluster || !s.leader) return 0;
  const text = await (await s.cluster.fetch(s.cluster.url(s.leader, '/metrics'), { signal: AbortSignal.timeout(5000) })).text();
  return metricSum(text, 'raftkv_network_peer_frames_sent_total');
}

/** With `--profile`, the nodes start with the CPU profiler's preload writing to `profDir`. */
async function raftkv(name: string, main: string, args: string[], profDir: string | undefined): Promise<System> {
  const h = profDir === undefined ? await startRaftKV(main, args) : await startRaftKVWith(main, args, CPU_PROF_PRELOAD, { RAFTKV_CPU_PROF_DIR: profDir });
  return { name, ...(await roles(h)), cluster: h };
}

installSignalCleanup();
try {
  const profDir = tempDir('raftkv-bench-prof-');
  const current = await buildRaftKV();
  const builds: [string, string][] = [['raftkv', current]];
  if (values.base) builds.unshift(['base', resolve(values.base)]);
  const safe: System[] = [];
  const lease: System[] = [];
  for (const [name, main] of builds) {
    safe.push(await raftkv(`${name} readindex`, main, [], profile ? profDir : undefined));
    lease.push(await raftkv(`${name} lease`, main, ['--read-mode', 'lease'], profile ? profDir : undefined));
  }
  const redis = await startRedis('redis', false);
  const ceiling = await startNodeCeiling();
  const refs: System[] = [
    { name: 'node ceiling', port: ceiling.port, server: ceiling.proc.pid as number, others: [] },
    { name: 'redis', port: redis.port, server: redis.proc.pid as number, others: [] },
  ];
  // Base and current build alternate within each mode.
  const systems = [...refs, ...safe, ...lease];
  for (const s of systems) await onLeader(s, () => fill(s.port));
  // Warm-up: RaftKV's GET paths get optimized before anything is measured.
  for (const s of [...safe, ...lease]) await onLeader(s, () => redisBenchmark(s.name, s.port, 'get', cfg, Math.min(requests, 200000)));
  console.log(
    `GET ${cfg.label}, ${requests} requests per run; CPU is user + system per GET, "+N" the two followers'; "machine" is every process on the machine, the generator included`,
  );
  for (let round = 1; round <= Number(values.rounds); round++) {
    const results = [];
    // Every other round the builds of a mode swap places (base first, then current first), so
    // neither gains from running second; results are printed in the same order each round.
    const order = round % 2 === 1 ? systems : [...refs, ...[...safe].reverse(), ...[...lease].reverse()];
    const byName = new Map<string, Awaited<ReturnType<typeof measured>>>();
    for (const s of order) byName.set(s.name, await onLeader(s, () => measured(s, cfg)));
    for (const s of systems) results.push(byName.get(s.name) as Awaited<ReturnType<typeof measured>>);
    const [top, rd] = results;
    for (const r of results) {
      const isRaftKV = r.system.startsWith('base') || r.system.startsWith('raftkv');
      const followers = isRaftKV ? ` +${r.othersUsPerOp.toFixed(2)}` : '';
      // Peer frames per GET: two per round when every follower is asked, so this shows the batching.
      const frames = isRaftKV ? `  ${r.framesPerOp.toFixed(3)} peer frames/GET` : '';
      console.log(
        `round ${round} ${r.system.padEnd(16)} ${r.opsPerSec.toFixed(0).padStart(7)}/s  ${(r.opsPerSec / top.opsPerSec).toFixed(3)}x ceiling` +
          `  ${(r.opsPerSec / rd.opsPerSec).toFixed(3)}x redis  p50 ${r.p50Ms} ms  ${r.cpuUsPerOp.toFixed(2)}${followers} us CPU/GET${frames}` +
          `  machine ${(r.busy * 100).toFixed(0)}% busy, ${r.machineUsPerOp.toFixed(1)} us/GET`,
      );
    }
    console.log(`round ${round}: ${loadAverage()}`);
  }
  if (profile) {
    const target = (values['profile-lease'] ? lease : safe).at(-1) as System;
    if (target.cluster) Object.assign(target, await roles(target.cluster));
    process.kill(target.server, 'SIGUSR2');
    const k = await redisBenchmark(target.name, target.port, 'get', cfg, requests);
    console.log(`profiled run: ${target.name} ${k.opsPerSec.toFixed(0)}/s; ${loadAverage()}`);
  }
  for (const s of [...safe, ...lease]) for (const n of s.cluster?.nodes ?? []) await s.cluster?.signal(n, 'SIGTERM');
  if (profile) {
    const pid = (values['profile-lease'] ? lease : safe).at(-1)?.server;
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
