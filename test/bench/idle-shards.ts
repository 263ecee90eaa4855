/**
 * The cost of an idle group on real nodes (issue 13, docs/performance.md#idle-groups): for
 * each shard count, a fresh compiled 3-node cluster started with `--shards N` (N data groups
 * and the slot-map group 0 on every node; `--shards 1` is the single group of today), left
 * idle: no client, no load. Once every group is led where the map hints, and after a settling
 * pause, each node's CPU (from /proc/<pid>/stat) and its peer bytes (frame bytes written to
 * each peer, `raftkv_network_peer_sent_bytes_total` on /metrics, read just outside the CPU
 * window) are taken over a window; the slope between two shard counts is what one more idle
 * group costs (`--shards` is at most 64). Everything the node does when idle counts: each group's core ticking and stepping
 * its heartbeats, the coalesced Heartbeats frames, the Ready loops, the keep-alive pings.
 *
 *   npx tsx test/bench/idle-shards.ts [--shards 1,10,30,60] [--seconds 10] [--settle 5]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { ClusterHarness, NodeHandle } from '../support/cluster-harness.ts';
import { waitShardLeaders } from '../support/shards.ts';
import { cleanup, cpuSeconds, installSignalCleanup, ioCounts, sleep } from './procs.ts';
import { buildRaftKV, startRaftKV } from './systems/raftkv.ts';

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '1,10,30,60' },
    seconds: { type: 'string', default: '10' },
    settle: { type: 'string', default: '5' },
  },
});

interface NodeIdle {
  id: string;
  /** CPU in µs per second of the window (1,000,000 = one core busy). */
  cpuUsPerS: number;
  /** Frame bytes written to all peers, per second. */
  peerBytesPerS: number;
  /** Coalesced Heartbeats frames written to all peers, per second. */
  heartbeatFramesPerS: number;
  /** Write syscalls per second (peer frames, LevelDB, logs). */
  writesPerS: number;
}

/** Sums a per-peer counter of one node's /metrics over its peers. */
function peerSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function measure(h: ClusterHarness, seconds: number): Promise<NodeIdle[]> {
  const metrics = (n: NodeHandle) => h.fetch(h.url(n, '/metrics'), { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
  const pids = h.nodes.map((n) => n.proc!.pid!);
  const m0 = await Promise.all(h.nodes.map(metrics));
  const cpu0 = pids.map(cpuSeconds);
  const io0 = pids.map(ioCounts);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu1 = pids.map(cpuSeconds);
  const io1 = pids.map(ioCounts);
  const elapsed = (performance.now() - t0) / 1000;
  const m1 = await Promise.all(h.nodes.map(metrics));
  const rate = (a: string, b: string, name: string) => (peerSum(b, name) - peerSum(a, name)) / elapsed;
  return h.nodes.map((n, i) => ({
    id: n.id,
    cpuUsPerS: ((cpu1[i]!.user + cpu1[i]!.system - cpu0[i]!.user - cpu0[i]!.system) * 1e6) / elapsed,
    peerBytesPerS: rate(m0[i]!, m1[i]!, 'raftkv_network_peer_sent_bytes_total'),
    heartbeatFramesPerS: rate(m0[i]!, m1[i]!, 'raftkv_network_peer_heartbeat_frames_sent_total'),
    writesPerS: (io1[i]!.syscw - io0[i]!.syscw) / elapsed,
  }));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

installSignalCleanup();
try {
  const counts = values.shards.split(',').map(Number);
  const seconds = Number(values.seconds);
  const main = await buildRaftKV();
  const rows: { shards: number; groups: number; nodes: NodeIdle[] }[] = [];
  const load0 = loadavg();
  for (const shards of counts) {
    const h = await startRaftKV(main, ['--shards', String(shards)]);
    try {
      await h.waitLeader();
      if (shards > 1) await waitShardLeaders(h, { timeoutMs: 60_000 });
      await sleep(Number(values.settle) * 1000);
      console.error(`--shards ${shards}: measuring ${seconds} s idle (load ${loadavg()[0]!.toFixed(2)})`);
      // Groups per node: the data groups, plus group 0 when there is a slot map.
      rows.push({ shards, groups: shards > 1 ? shards + 1 : 1, nodes: await measure(h, seconds) });
    } finally {
      await h.stop();
    }
  }
  const f = (x: number, d = 0) => x.toFixed(d);
  console.log('idle 3-node cluster, per node (mean of the 3; min-max in brackets):');
  console.log('shards  groups/node  CPU us/s             peer bytes/s          Heartbeats frames/s  write syscalls/s');
  for (const r of rows) {
    const col = (pick: (n: NodeIdle) => number) => {
      const xs = r.nodes.map(pick);
      return `${f(mean(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]`.padEnd(21);
    };
    console.log(
      `${String(r.shards).padEnd(8)}${String(r.groups).padEnd(13)}${col((n) => n.cpuUsPerS)}${col((n) => n.peerBytesPerS)}${col((n) => n.heartbeatFramesPerS)}${col((n) => n.writesPerS)}`,
    );
  }
  console.log('\none more idle group, per node (slope between consecutive shard counts):');
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1]!, rows[i]!];
    const dg = b.groups - a.groups;
    const slope = (pick: (n: NodeIdle) => number) => (mean(b.nodes.map(pick)) - mean(a.nodes.map(pick))) / dg;
    console.log(
      `  ${a.shards} -> ${b.shards} shards: CPU ${f(
        slope((n) => n.cpuUsPerS),
        1,
      )} us/s, peer bytes ${f(
        slope((n) => n.peerBytesPerS),
        1,
      )} B/s, write syscalls ${f(
        slope((n) => n.writesPerS),
        2,
      )}/s`,
    );
  }
  console.log(
    `\nload average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
