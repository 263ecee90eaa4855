/**
 * The shard comparison of `npm run bench -- --shards 1,3,9` (issue 13): for each shard count
 * N, a fresh compiled 3-node cluster started with `--shards N` (1 is today's single group; above
 * it, N data groups and the slot-map group 0 per node, leaders spread by the map's hints),
 * loaded by cluster-load.ts (replicated SETs, each key sent to its slot's leader, closed loop)
 * at the write bench's largest client count.
 *
 * What carries to more machines is measured, not the throughput (on a 2-core machine all three
 * nodes share the same cores): CPU µs per SET summed over the nodes, and each node's share of
 * that CPU against the mean (the balance). Both come from /proc/<pid>/stat, read by the load
 * generator at the edges of its measured window.
 */
import type { NodeHandle } from '../support/cluster-harness.ts';
import { dataShards, type ShardList, waitShardLeaders } from '../support/shards.ts';
import type { ClusterLoadResult } from './load-result.ts';
import { metricSum } from './metrics-text.ts';
import { run } from './procs.ts';
import { startRaftKV } from './systems/raftkv.ts';

const LOAD = new URL('./cluster-load.ts', import.meta.url).pathname;
/**
 * Seconds of load before the measured window: V8 optimizes the write path (as cpu-per-op.ts
 * warms up). 3 s is not enough for every shard count on a loaded machine: at 9 shards V8's
 * compiler threads were still busy after it (shard-threads.ts; docs/performance.md, "Shards"),
 * so `warmupS` can be raised.
 */
export const WARMUP_S = 3;

export interface ShardRow {
  shards: number;
  load: ClusterLoadResult;
  /** Per node: id, data groups it led after the run, CPU in the window (s), share / mean. */
  nodes: { id: string; leads: number; cpuSeconds: number; relative: number }[];
  /** All nodes' CPU in the window over the SETs answered in it. */
  cpuPerSetUs: number;
  /** The busiest and the idlest node's CPU relative to the mean (1 = perfectly even). */
  maxRelative: number;
  minRelative: number;
  /**
   * Peer messages and frames written per SET, all nodes (their /metrics read around the load,
   * warm-up included, over every SET answered in it): how many replication rounds a SET pays
   * for, and how many of them share a frame.
   */
  peer: { messagesPerSet: number; framesPerSet: number };
}

/** The counters `peer` is computed from, summed over the nodes. */
async function peerCounts(h: Awaited<ReturnType<typeof startRaftKV>>): Promise<{ messages: number; frames: number }> {
  const texts = await Promise.all(h.nodes.map((n) => h.fetch(h.url(n, '/metrics'), { signal: AbortSignal.timeout(5000) }).then((r) => r.text())));
  const sum = (name: string) => texts.reduce((a, t) => a + metricSum(t, name), 0);
  return { messages: sum('raftkv_network_peer_messages_sent_total'), frames: sum('raftkv_network_peer_frames_sent_total') };
}

/** Data groups each node leads, from the agreed list. */
function ledBy(list: ShardList): Map<string, number> {
  const byNode = new Map<string, number>();
  for (const s of dataShards(list)) if (s.leader) byNode.set(s.leader, (byNode.get(s.leader) ?? 0) + 1);
  return byNode;
}

/** One shard count: start, wait for the leaders the map hints, warm up and measure, stop. */
export async function shardRun(
  main: string,
  shards: number,
  clients: number,
  seconds: number,
  log: (msg: string) => void,
  warmupS = WARMUP_S,
): Promise<ShardRow> {
  const h = await startRaftKV(main, ['--shards', String(shards)]);
  try {
    const leader = await h.waitLeader();
    let byNode = new Map<string, number>([[leader.id, 1]]);
    // The spread duty hands groups over a few ticks after the elections; measure after it.
    if (shards > 1) await waitShardLeaders(h);
    log(`shards ${shards}: ${clients} clients, ${warmupS} s warm-up, ${seconds} s measured`);
    const before = await peerCounts(h);
    const load = await clusterLoad(h.nodes, clients, seconds, warmupS);
    const after = await peerCounts(h);
    const sets = Math.max(1, load.answered);
    if (shards > 1) byNode = ledBy(await waitShardLeaders(h, { hinted: false }));
    const cpu = load.nodeCpu.map((c) => c.user + c.system);
    const total = cpu.reduce((a, b) => a + b, 0);
    const mean = total / cpu.length;
    const nodes = h.nodes.map((n, i) => ({ id: n.id, leads: byNode.get(n.id) ?? 0, cpuSeconds: cpu[i]!, relative: cpu[i]! / mean }));
    return {
      shards,
      load,
      nodes,
      cpuPerSetUs: (total * 1e6) / load.ops,
      maxRelative: Math.max(...nodes.map((n) => n.relative)),
      minRelative: Math.min(...nodes.map((n) => n.relative)),
      peer: { messagesPerSet: (after.messages - before.messages) / sets, framesPerSet: (after.frames - before.frames) / sets },
    };
  } finally {
    await h.stop();
  }
}

/** cluster-load.ts in its own process against every node, sampling the nodes' CPU. */
async function clusterLoad(nodes: NodeHandle[], clients: number, seconds: number, warmupS: number): Promise<ClusterLoadResult> {
  const args = ['--ports', nodes.map((n) => n.port).join(','), '--pids', nodes.map((n) => n.proc!.pid!).join(',')];
  const out = await run(process.execPath, [
    '--import',
    'tsx',
    LOAD,
    ...args,
    '--clients',
    String(clients),
    '--seconds',
    String(seconds),
    '--warmup',
    String(warmupS),
  ]);
  return JSON.parse(out.trim().split('\n').pop()!) as ClusterLoadResult;
}

/**
 * One shard count's figures over all its runs (a count may run several times, alternating with
 * the others, so that a slow stretch of the machine does not fall on one count only): CPU per
 * SET over all their SETs, and the most uneven node shares any run saw.
 */
export function shardCount(rows: ShardRow[], shards: number): { cpuPerSetUs: number; maxRelative: number; minRelative: number; runs: number } | undefined {
  const of = rows.filter((r) => r.shards === shards);
  if (of.length === 0) return undefined;
  const ops = of.reduce((a, r) => a + r.load.ops, 0);
  return {
    cpuPerSetUs: of.reduce((a, r) => a + r.cpuPerSetUs * r.load.ops, 0) / Math.max(1, ops),
    maxRelative: Math.max(...of.map((r) => r.maxRelative)),
    minRelative: Math.min(...of.map((r) => r.minRelative)),
    runs: of.length,
  };
}

/** "1.30x (200 vs 154 us)", with the number of runs behind each figure when more than one. */
export function cpuRatio(a: NonNullable<ReturnType<typeof shardCount>>, b: NonNullable<ReturnType<typeof shardCount>>, digits: number): string {
  const runs = a.runs > 1 || b.runs > 1 ? `; ${a.runs} and ${b.runs} runs` : '';
  return `${(a.cpuPerSetUs / b.cpuPerSetUs).toFixed(digits)}x (${a.cpuPerSetUs.toFixed(0)} vs ${b.cpuPerSetUs.toFixed(0)} us${runs})`;
}

/** The issue's two goals, from this run's rows (SKIP when a shard count was not run). */
export function shardTargets(rows: ShardRow[]): { name: string; measured: string; goal: string; pass: boolean | null }[] {
  const [one, three, nine] = [shardCount(rows, 1), shardCount(rows, 3), shardCount(rows, 9)];
  const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(0)}%`;
  return [
    {
      name: 'node CPU within 20% of the mean, 3 shards',
      measured: three
        ? `max ${pct(three.maxRelative)}, min ${pct(three.minRelative)}${one ? ` (1 shard: max ${pct(one.maxRelative)}, min ${pct(one.minRelative)})` : ''}`
        : 'not measured (--shards 3)',
      goal: 'max <= +20%, min >= -20%',
      pass: three ? three.maxRelative <= 1.2 && three.minRelative >= 0.8 : null,
    },
    {
      name: 'CPU per SET, 9 shards vs 1',
      measured: one && nine ? cpuRatio(nine, one, 2) : 'not measured (--shards 1,9)',
      goal: '<= 1.10x',
      pass: one && nine ? nine.cpuPerSetUs / one.cpuPerSetUs <= 1.1 : null,
    },
  ];
}

/** The shard rows as their own table: throughput, latency, CPU per SET and each node's share. */
export function renderShards(rows: ShardRow[]): string {
  const head = [
    'shards',
    'clients',
    'SET/s',
    'p50 ms',
    'p99 ms',
    'CPU us/SET',
    'msgs/SET',
    'frames/SET',
    'per node: CPU / mean (data groups led)',
    'max/mean',
    'min/mean',
    'gen CPU',
    'MOVED',
  ];
  const body = rows.map((r) => [
    String(r.shards),
    String(r.load.clients),
    r.load.opsPerSec.toFixed(0),
    r.load.p50Ms.toFixed(2),
    r.load.p99Ms.toFixed(1),
    r.cpuPerSetUs.toFixed(0),
    r.peer.messagesPerSet.toFixed(2),
    r.peer.framesPerSet.toFixed(2),
    r.nodes.map((n) => `${n.id} ${n.relative.toFixed(2)} (${n.leads})`).join(', '),
    r.maxRelative.toFixed(2),
    r.minRelative.toFixed(2),
    `${(r.load.generatorCpu * 100).toFixed(0)}%`,
    String(r.load.moved),
  ]);
  const all = [head, ...body];
  const widths = head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)) + 2);
  const lines = all.map((row) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('')
      .trimEnd(),
  );
  lines.splice(1, 0, '-'.repeat(widths.reduce((a, b) => a + b, 0)));
  return lines.join('\n');
}
