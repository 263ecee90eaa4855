/**
 * `npm run bench`: RaftKV (3 nodes, fsync on) side by side with redis-server (no persistence,
 * and AOF appendfsync always) and a 3-member etcd, all started here on loopback, measured in
 * one run, and a minimal Node.js RESP server on a Map (systems/node-ceiling-server.mjs), the
 * ceiling any Node front end reaches on this machine. Prints one table whose last lines are the target ratios, and writes
 * test/bench/results/<timestamp>.json and .svg. Everything started is stopped on exit,
 * failure or Ctrl-C.
 *
 *   npx tsx test/bench/run.ts [--quick] [--seconds S] [--failover-trials N] [--memory] [--memory-keys N]
 *                             [--skip etcd,redis-benchmark,lease,write,mix,failover,memory,types,shards]
 *
 * `lease` is a second RaftKV cluster started with `--read-mode lease` for the GET rows only
 * (reads served under the leader's CheckQuorum lease, no quorum round per read): the option's
 * cost next to the default ReadIndex reads. It runs after the main redis-benchmark rows and is
 * stopped before the failover and memory parts.
 *
 *   npx tsx test/bench/run.ts --shards 1,3,9 [--quick] [--seconds S] [--clients 256]
 *
 * measures only the shard comparison (shards.ts, issue 13): a fresh 3-node cluster per shard
 * count under a cluster-aware SET load at the largest --clients, with CPU per SET summed over
 * the nodes and each node's share of it.
 *
 *   npx tsx test/bench/run.ts --soak [--soak-minutes 10]
 *
 * measures only the memory soak (soak.ts, issue 15 target 5): RSS of every RaftKV node and of
 * redis-server under a looping redis-benchmark cache load, sampled every 30 s, with a chart
 * (soak-<timestamp>.svg) and where each node's memory sits at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderSvg } from './chart.ts';
import { type ElectionWindow, watchElections } from './elections.ts';
import { failoverTrials, median } from './failover.ts';
import type { LoadResult } from './load-result.ts';
import { raftkvRss, redisRss } from './memory.ts';
import { type TypeRow, typeMemory } from './memory-types.ts';
import { cleanup, installSignalCleanup } from './procs.ts';
import { RB_CONFIGS, type RbConfig, type RbResult, type RbTest, redisBenchmark } from './redis-benchmark.ts';
import { type BenchResults, computeTargets, electionTarget, renderTable, renderTargets } from './report.ts';
import { RespClient } from './resp-client.ts';
import { type ShardRow, shardRun } from './shards.ts';
import { renderSoak, soak, soakTargets } from './soak.ts';
import { renderSoakSvg } from './soak-chart.ts';
import { buildEtcdLoad, etcdAvailable, etcdLoad, startEtcd } from './systems/etcd.ts';
import { startNodeCeiling } from './systems/node-ceiling.ts';
import { buildRaftKV, raftkvLoad, raftkvMixLoad, startRaftKV, startRaftKVWith } from './systems/raftkv.ts';
import { startRedis } from './systems/redis.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    'failover-trials': { type: 'string' },
    memory: { type: 'boolean', default: false },
    'memory-keys': { type: 'string', default: '1000000' },
    skip: { type: 'string', default: '' },
    clients: { type: 'string', default: '1,16,64,256' },
    shards: { type: 'string' },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '10' },
  },
});
const quick = values.quick;
const seconds = Number(values.seconds ?? (quick ? 2 : 5));
const trials = Number(values['failover-trials'] ?? (quick ? 3 : 5));
const skip = new Set(values.skip.split(',').filter(Boolean));
// Without an etcd server (or go to build the generator) the etcd rows are skipped, and said so.
if (!values.shards && !values.soak && !skip.has('etcd') && !etcdAvailable()) {
  console.error('[bench] etcd or go is not installed: the etcd rows and ratios are skipped (SKIP)');
  skip.add('etcd');
}
const clientCounts = values.clients.split(',').map(Number);

/**
 * redis-benchmark request counts sized to take a few seconds each on a 2-core machine;
 * RaftKV writes are fsync-bound so they get fewer. --quick divides by 4.
 */
function requests(system: string, test: RbTest, cfg: RbConfig): number {
  const base: Record<RbConfig['label'], number> =
    system === 'raftkv' && test === 'set'
      ? { '-c 50 -P 1': 15_000, '-c 50 -P 16': 40_000, '-c 1 -P 1': 1_500 }
      : system === 'redis-aof' && test === 'set'
        ? { '-c 50 -P 1': 40_000, '-c 50 -P 16': 150_000, '-c 1 -P 1': 3_000 }
        : system === 'raftkv'
          ? { '-c 50 -P 1': 60_000, '-c 50 -P 16': 200_000, '-c 1 -P 1': 5_000 }
          : { '-c 50 -P 1': 150_000, '-c 50 -P 16': 600_000, '-c 1 -P 1': 15_000 };
  return Math.round(base[cfg.label] / (quick ? 4 : 1));
}

/** The mixed workload's paced rate, ops/s: well under what a quiet 2-core machine serves. */
const MIX_RATE = 3000;

/** Unrecorded GETs run before the measured ones on each RaftKV cluster. */
const GET_WARMUP = quick ? 50_000 : 200_000;

const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function main(): Promise<void> {
  installSignalCleanup();
  const startedAt = new Date().toISOString();
  const loadAvgBefore = loadavg();
  log(`load average ${loadAvgBefore.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`);
  if (values.shards) return shardsMain(startedAt, loadAvgBefore, values.shards.split(',').map(Number));
  if (values.soak) return soakMain(startedAt, loadAvgBefore, Number(values['soak-minutes']));

  log(`starting RaftKV (3 nodes), redis-server x2${skip.has('etcd') ? '' : ', etcd (3 members)'}`);
  const etcdBin = skip.has('etcd') ? undefined : await buildEtcdLoad();
  const raftMain = await buildRaftKV();
  const [raft, redis, redisAof, ceiling, etcd] = await Promise.all([
    startRaftKV(raftMain),
    startRedis('redis', false),
    startRedis('redis-aof', true),
    startNodeCeiling(),
    skip.has('etcd') ? undefined : startEtcd(),
  ]);

  const elections: ElectionWindow[] = [];
  const pids = () => raft.nodes.map((n) => n.proc!.pid!);
  const writeLoad: LoadResult[] = [];
  if (!skip.has('write')) {
    for (const c of clientCounts) {
      const leader = await raft.waitLeader();
      log(`write load: raftkv ${c} clients`);
      writeLoad.push(await watchElections(raft, `SET closed-loop ${c}`, elections, () => raftkvLoad(leader, c, seconds, { pids: pids() })));
      if (etcd && etcdBin) {
        log(`write load: etcd ${c} clients`);
        writeLoad.push(await etcdLoad(etcdBin, etcd, c, seconds));
      }
    }
  }

  const rb: RbResult[] = [];
  if (!skip.has('redis-benchmark')) {
    for (const test of ['set', 'get'] as const) {
      // A server is judged in its steady state: let V8 optimize RaftKV's GET path before the
      // GET rows (the SET rows come after the closed-loop writes, which warmed the write path).
      if (test === 'get')
        await watchElections(raft, 'GET warm-up', elections, async () =>
          redisBenchmark('raftkv', (await raft.waitLeader()).port, 'get', RB_CONFIGS[1]!, GET_WARMUP),
        );
      for (const cfg of RB_CONFIGS) {
        const leader = await raft.waitLeader();
        const systems = [
          ['raftkv', leader.port],
          ['redis', redis.port],
          ['redis-aof', redisAof.port],
          ['node-ceiling', ceiling.port],
        ] as const;
        for (const [system, port] of systems) {
          if (system === 'redis-aof' && test === 'get') continue; // reads never touch the AOF
          log(`redis-benchmark ${system} ${test} ${cfg.label}`);
          const go = () => redisBenchmark(system, port, test, cfg, requests(system, test, cfg));
          rb.push(await (system === 'raftkv' ? watchElections(raft, `redis-benchmark ${test.toUpperCase()} ${cfg.label}`, elections, go) : go()));
        }
      }
    }
  }

  if (!skip.has('redis-benchmark') && !skip.has('lease')) {
    log('starting RaftKV (3 nodes) with --read-mode lease');
    const lease = await startRaftKV(raftMain, ['--read-mode', 'lease']);
    const leader = await lease.waitLeader();
    await watchElections(lease, 'lease: SET and GET warm-up', elections, async () => {
      // The same keys the main cluster's GETs find (redis-benchmark -r draws them alike).
      await redisBenchmark('raftkv-lease', leader.port, 'set', RB_CONFIGS[1]!, requests('raftkv', 'set', RB_CONFIGS[1]!));
      await redisBenchmark('raftkv-lease', leader.port, 'get', RB_CONFIGS[1]!, GET_WARMUP);
    });
    for (const cfg of RB_CONFIGS) {
      log(`redis-benchmark raftkv-lease get ${cfg.label}`);
      const go = async () => redisBenchmark('raftkv-lease', (await lease.waitLeader()).port, 'get', cfg, requests('raftkv', 'get', cfg));
      rb.push(await watchElections(lease, `lease: redis-benchmark GET ${cfg.label}`, elections, go));
    }
    await lease.stop();
  }

  // Issue 15 target 7: the cache mix against strings only on the main cluster, both paced to the
  // same MIX_RATE (CPU per write depends on how many share a batch), alternating every second
  // within each round (resp-load.ts --alternate says why), and long enough that /proc's 10 ms
  // ticks add up to a few seconds of CPU per mix.
  const mixed: LoadResult[] = [];
  if (!skip.has('mix')) {
    for (let round = 0; round < 3; round++) {
      log(`mixed workload: strings and cache alternating each second, 64 clients at ${MIX_RATE}/s, round ${round + 1}`);
      const go = async () =>
        raftkvMixLoad(await raft.waitLeader(), 64, 2 * Math.max(seconds, 5), { pids: pids(), mixes: ['strings', 'cache'], rate: MIX_RATE });
      // A leader that moves mid-round (seen at load average 30) fails the round: it is counted
      // as the window's election and the round runs again on the new leader.
      mixed.push(...(await watchElections(raft, 'mix strings/cache 64', elections, () => retryOnLeaderChange(go, log))));
    }
  }

  let failover: BenchResults['failover'];
  if (!skip.has('failover') && trials > 0) {
    log(`failover: ${trials} x kill -9`);
    const killMs = await failoverTrials(raft, 'SIGKILL', trials);
    log(`failover: ${trials} x SIGTERM`);
    const termMs = await failoverTrials(raft, 'SIGTERM', trials);
    failover = { killMs, termMs, killMedianMs: median(killMs), termMedianMs: median(termMs) };
  }

  let memory: BenchResults['memory'];
  let types: TypeRow[] | undefined;
  // Issue 15 wants the RSS ratio from the full run, after every other load: on unless --quick
  // (where --memory adds it) or --skip memory.
  if (values.memory || (!quick && !skip.has('memory'))) {
    const keys = Number(values['memory-keys']);
    for (const port of [(await raft.waitLeader()).port, redis.port]) {
      const c = await RespClient.connect(port);
      await c.command('FLUSHALL');
      c.close();
    }
    log(`memory: loading ${keys} keys into RaftKV`);
    const raftkvRssMiB = await watchElections(raft, `memory: ${keys} keys`, elections, () => retryOnLeaderChange(() => raftkvRss(raft, keys), log));
    log(`memory: loading ${keys} keys into redis`);
    const redisRssMiB = await redisRss(redis.port, redis.proc.pid!, keys);
    memory = { keys, raftkvRssMiB, redisRssMiB };
    if (!skip.has('types')) {
      // A fresh cluster with the inspector and a fresh redis-server (memory-types.ts says why).
      types = await retryOnLeaderChange(() => typeMemory(raftMain, log, elections), log);
    }
  }

  // Issue 15 target 7, the shards: fresh clusters at 1 and 3 shards (shards.ts), after the rest
  // so their CPU does not share the machine with the main cluster's loads. Three of each,
  // alternating, as the mix alternates: one run per count let a slow stretch decide the ratio
  // (0.925x at 13:58 and 1.359x at 19:08 on 2026-12-04; six alternating runs: 1.32x).
  let shards: ShardRow[] | undefined;
  if (!skip.has('shards')) {
    await raft.stop();
    shards = [];
    for (const n of [1, 3, 3, 1, 1, 3]) shards.push(await shardRun(raftMain, n, 64, seconds, log));
  }

  const partial = {
    startedAt,
    quick,
    machine: { cpus: cpus().length, loadAvgBefore, loadAvgAfter: loadavg(), node: process.version },
    writeLoad,
    redisBenchmark: rb,
    failover,
    memory,
    mixed,
    shards,
    elections,
    types,
  };
  const results: BenchResults = { ...partial, targets: computeTargets(partial) };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.replaceAll(':', '-').replace(/\..*/, '');
  writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, `${stamp}.svg`), renderSvg(results));
  console.log(renderTable(results));
  console.log(
    `\nload average before ${loadAvgBefore.map((x) => x.toFixed(2)).join(' ')}, after ${results.machine.loadAvgAfter.map((x) => x.toFixed(2)).join(' ')}`,
  );
  console.log(`results: ${join(dir, `${stamp}.json`)}\nchart:   ${join(dir, `${stamp}.svg`)}`);
}

/** Runs `fn` again (twice at most) when it failed because the leader moved (MOVED, CLUSTERDOWN). */
async function retryOnLeaderChange<T>(fn: () => Promise<T>, say: (msg: string) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 2 || !/MOVED|CLUSTERDOWN/.test(String(err))) throw err;
      say('the leader moved during the load; running it again');
    }
  }
}

/** `--shards 1,3,9`: the shard comparison alone, one fresh cluster per count, in order. */
async function shardsMain(startedAt: string, loadAvgBefore: number[], counts: number[]): Promise<void> {
  const raftMain = await buildRaftKV();
  const clients = Math.max(...clientCounts);
  const rows: ShardRow[] = [];
  for (const n of counts) rows.push(await shardRun(raftMain, n, clients, seconds, log));
  const partial = {
    startedAt,
    quick,
    machine: { cpus: cpus().length, loadAvgBefore, loadAvgAfter: loadavg(), node: process.version },
    writeLoad: [],
    redisBenchmark: [],
    shards: rows,
  };
  const results: BenchResults = { ...partial, targets: computeTargets(partial) };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `shards-${startedAt.replaceAll(':', '-').replace(/\..*/, '')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(renderTable(results));
  console.log(
    `\nload average before ${loadAvgBefore.map((x) => x.toFixed(2)).join(' ')}, after ${results.machine.loadAvgAfter.map((x) => x.toFixed(2)).join(' ')}`,
  );
  console.log(`results: ${file}`);
}

/** `--soak`: the memory soak alone, on a cluster whose nodes run with the inspector on loopback (for the breakdown). */
async function soakMain(startedAt: string, loadAvgBefore: number[], minutes: number): Promise<void> {
  const raftMain = await buildRaftKV();
  const [raft, redis] = await Promise.all([startRaftKVWith(raftMain, [], '--inspect=127.0.0.1:0'), startRedis('redis', false)]);
  log(`soak: ${minutes} min, RSS every 30 s`);
  const r = await soak(raft, { port: redis.port, pid: redis.proc.pid! }, minutes, log);
  const loadAvgAfter = loadavg();
  const targets = [...soakTargets(r.growth), electionTarget(r.elections)];
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = `soak-${startedAt.replaceAll(':', '-').replace(/\..*/, '')}`;
  const loads = `load average before ${loadAvgBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAvgAfter.map((x) => x.toFixed(2)).join(' ')}`;
  const machine = { cpus: cpus().length, loadAvgBefore, loadAvgAfter, node: process.version };
  writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify({ startedAt, machine, soak: r, targets }, null, 2)}\n`);
  writeFileSync(join(dir, `${stamp}.svg`), renderSoakSvg(r, `RaftKV soak ${startedAt}; ${loads}; ${cpus().length} CPUs`));
  console.log(renderSoak(r));
  console.log(renderTargets(targets));
  console.log(`\n${loads}`);
  console.log(`results: ${join(dir, `${stamp}.json`)}\nchart:   ${join(dir, `${stamp}.svg`)}`);
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
