/**
 * The cost of an idle Raft group on the peer links (issue 13, mux; docs/performance.md, "Idle
 * groups"): CPU and bytes per second, in three modes:
 *   coalesced  heartbeats of all groups to a peer in a turn as one Heartbeats frame (the default);
 *   batched    heartbeats as ordinary messages in the turn's batch frame (protocol 1's way);
 *   single     one frame per message (maxBatchBytes tiny), the frames that a link per group
 *              would send, though without its extra connections, handshakes and pings.
 *
 * Starts N node processes (3 by default), each a real Transport on a loopback port linked to the
 * others, hosting the same G groups. As idle Raft groups do with leaders spread evenly, group g's
 * leader is node g mod N, and every tick it sends each follower a heartbeat; a follower answers
 * each at once with a heartbeat response (the core does, in the Ready of the step). No Raft core,
 * storage or state machine runs: what is measured is the transport's share of an idle group.
 * Per node: CPU from /proc/<pid>/stat, bytes handed to the kernel from /proc/<pid>/io (wchar:
 * WebSocket payloads and frame headers, not TCP/IP headers) and write syscalls (syscw), over
 * --seconds after a warm-up. G = 0 is the baseline: links up, keep-alive pings only.
 *
 *   npx tsx test/transport/idle-groups.bench.ts [--groups 0,1,10,100,1000] [--seconds 10] [--tick-ms 100] [--nodes 3] [--modes coalesced,batched,single]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import pino from 'pino';
import { type Message, MessageType } from '../../src/raft/types.ts';
import { PEER_PATH, Transport } from '../../src/transport/index.ts';
import { freePort } from '../support/cluster-harness.ts';
import { cpuSeconds } from '../support/proc-cpu.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '0,1,10,100,1000' },
    seconds: { type: 'string', default: '10' },
    'tick-ms': { type: 'string', default: '100' },
    nodes: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'coalesced,batched,single' },
    // Child mode (spawned by the parent):
    child: { type: 'boolean', default: false },
    index: { type: 'string', default: '0' },
    ports: { type: 'string', default: '' },
    mode: { type: 'string', default: 'coalesced' },
  },
});

const SECRET = 'idle-groups-bench-secret';
const id = (i: number) => `node-${i + 1}`;

function heartbeat(type: MessageType, from: string, to: string, commit: number): Message {
  return { type, from, to, term: 3, logTerm: 0, index: 0, entries: [], commit, reject: false, rejectHint: 0 };
}

async function child(): Promise<void> {
  const index = Number(values.index);
  const ports = values.ports.split(',').map(Number);
  const groups = Number(values.groups);
  const tickMs = Number(values['tick-ms']);
  const self = id(index);
  const transport = new Transport({
    nodeId: self,
    clusterId: 'idle-groups',
    secret: SECRET,
    logger: pino({ level: 'silent' }),
    coalesceHeartbeats: values.mode === 'coalesced',
    // Above this a message leaves alone: every frame then holds one message.
    ...(values.mode === 'single' ? { maxBatchBytes: 1 } : {}),
    isAllowedPeer: () => true,
  });
  const app = Fastify();
  await transport.registerRoutes(app);
  await app.listen({ host: '127.0.0.1', port: ports[index] });
  let received = 0;
  const led: { send(ms: Message[]): void; commit: number }[] = [];
  for (let g = 1; g <= groups; g++) {
    const ep = transport.group(g, {
      onMessage: (m) => {
        received++;
        if (m.type === MessageType.Heartbeat) ep.send([heartbeat(MessageType.HeartbeatResp, self, m.from, 0)]);
      },
    });
    if (g % ports.length === index) led.push({ send: (ms) => ep.send(ms), commit: 1000 + g });
  }
  const peers = ports.map((p, i) => ({ id: id(i), url: `ws://127.0.0.1:${p}${PEER_PATH}` }));
  transport.setPeers(peers);
  const others = peers.filter((p) => p.id !== self).map((p) => p.id);
  // One tick timer for all groups, as a node hosting many groups ticks them.
  setInterval(() => {
    for (const g of led) g.send(others.map((to) => heartbeat(MessageType.Heartbeat, self, to, g.commit)));
  }, tickMs);
  const up = setInterval(() => {
    if (others.every((o) => transport.stats()[o]?.state === 'connected')) {
      clearInterval(up);
      process.send?.({ ready: true });
    }
  }, 20);
  process.on('message', () => {
    const links = Object.values(transport.stats());
    process.send?.({
      received,
      sent: links.reduce((n, s) => n + s.sent, 0),
      dropped: links.reduce((n, s) => n + s.dropped, 0),
      heartbeatFrames: links.reduce((n, s) => n + s.heartbeatFrames, 0),
    });
  });
}

function procIo(pid: number): { wchar: number; syscw: number } {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/io`, 'utf8').split('\n')) {
    const [k, v] = line.split(': ');
    if (v) out[k] = Number(v);
  }
  return { wchar: out.wchar, syscw: out.syscw };
}

interface ChildStats {
  received: number;
  sent: number;
  dropped: number;
  heartbeatFrames: number;
}

function ask(p: ChildProcess): Promise<ChildStats> {
  return new Promise((resolve) => {
    p.once('message', (m) => resolve(m as ChildStats));
    p.send('stats');
  });
}

async function measure(groups: number, mode: string, seconds: number, nodes: number) {
  const ports = await Promise.all(Array.from({ length: nodes }, () => freePort()));
  const procs = ports.map((_, i) =>
    spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        new URL(import.meta.url).pathname,
        '--child',
        '--index',
        String(i),
        '--ports',
        ports.join(','),
        '--groups',
        String(groups),
        '--mode',
        mode,
        '--tick-ms',
        values['tick-ms'],
      ],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    ),
  );
  try {
    await Promise.all(procs.map((p) => new Promise((r) => p.once('message', r))));
    await new Promise((r) => setTimeout(r, 2000)); // warm-up: JIT, first frames
    const pids = procs.map((p) => p.pid!);
    // The children's IPC replies are writes too: read /proc after the first, before the second.
    const before = await Promise.all(procs.map(ask));
    const cpu0 = pids.map(cpuSeconds);
    const io0 = pids.map(procIo);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const wall = (performance.now() - t0) / 1000;
    const cpu = pids.map((pid, i) => (cpuSeconds(pid) - cpu0[i]) / wall);
    const io = pids.map((pid, i) => {
      const now = procIo(pid);
      return { bytes: (now.wchar - io0[i].wchar) / wall, writes: (now.syscw - io0[i].syscw) / wall };
    });
    const after = await Promise.all(procs.map(ask));
    const per = (f: (s: ChildStats) => number) => after.reduce((n, s, i) => n + f(s) - f(before[i]), 0) / nodes / wall;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      cpu: mean(cpu),
      bytes: mean(io.map((x) => x.bytes)),
      writes: mean(io.map((x) => x.writes)),
      received: per((s) => s.received),
      frames: per((s) => s.heartbeatFrames),
      dropped: per((s) => s.dropped),
    };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const seconds = Number(values.seconds);
  const nodes = Number(values.nodes);
  const groupCounts = values.groups.split(',').map(Number);
  console.log(`# idle groups: ${nodes} nodes, tick ${values['tick-ms']} ms, ${seconds} s per row, load ${loadavg()[0].toFixed(1)}`);
  console.log(
    '| heartbeats | G | CPU per node (% of a core) | CPU per group (µs/s, over G = 0) | bytes/s per node | bytes/s per group | writes/s per node | heartbeats + answers received/s per node |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const mode of values.modes.split(',')) {
    let base: { cpu: number; bytes: number } | undefined;
    for (const g of groupCounts) {
      const r = await measure(g, mode, seconds, nodes);
      if (g === 0) base = r;
      const perGroup = (x: number, b = 0) => (g === 0 ? '' : ((x - b) / g).toFixed(1));
      console.log(
        `| ${mode} | ${g} | ${(r.cpu * 100).toFixed(2)} | ${perGroup(r.cpu * 1e6, base ? base.cpu * 1e6 : 0)} | ${Math.round(r.bytes)} | ${perGroup(r.bytes, base?.bytes ?? 0)} | ${r.writes.toFixed(1)} | ${Math.round(r.received)}${r.dropped > 0 ? ` (dropped ${r.dropped.toFixed(1)}/s)` : ''} |`,
      );
    }
  }
  console.log(`# ${loadavg()[0].toFixed(1)} load at the end`);
}

if (values.child) await child();
else await main();
