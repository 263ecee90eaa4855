/**
 * The waterfall of one replicated write (issue 15): starts the compiled 3-node cluster with fsync
 * on and `--trace-writes` (src/node/write-trace.ts), drives single-client SETs one at a time,
 * asks every node for its stamps (SIGUSR2), and prints per stage the median time since the
 * client sent its request, and the median step from the line above. Every node and this tool
 * stamp with CLOCK_MONOTONIC (process.hrtime), which the processes of one machine share.
 *
 *   npx tsx test/bench/trace-write.ts [--writes 2000] [--warmup 1000] [--tsx] [--main DIST/cli/main.js] [--json FILE]
 *
 * `--main`: another compiled build (ab-write.ts and shards-ab.ts leave one per revision in .tmp/test-build/rev-<sha>/), for
 * waterfalls of two builds taken in turns.
 *
 * Of the two followers, each write's row is the one whose ack left first: the ack that commits.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TRACE_STAGES, type TraceStage } from '../../src/node/write-trace.ts';
import { cleanup, installSignalCleanup, onCleanup } from './procs.ts';
import { buildRaftKV, startRaftKV } from './systems/raftkv.ts';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '1000' },
    tsx: { type: 'boolean', default: false },
    main: { type: 'string' },
    json: { type: 'string' },
  },
});

const now = (): number => Number(process.hrtime.bigint());

/** One client, one SET outstanding at a time; the send and reply times of each. */
async function drive(port: number, n: number, tag: string): Promise<{ sent: number; got: number }[]> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const out: { sent: number; got: number }[] = [];
  let buf = '';
  let waiting: (() => void) | undefined;
  sock.on('data', (d) => {
    const t = now();
    buf += d.toString('latin1');
    if (!buf.endsWith('\r\n')) return;
    if (buf !== '+OK\r\n') throw new Error(`unexpected reply ${JSON.stringify(buf)}`);
    buf = '';
    out[out.length - 1]!.got = t;
    waiting?.();
  });
  for (let i = 0; i < n; i++) {
    const key = `${tag}:${i % 1000}`;
    const value = 'v'.repeat(16);
    const req = `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$16\r\n${value}\r\n`;
    const done = new Promise<void>((r) => {
      waiting = r;
    });
    out.push({ sent: now(), got: 0 });
    sock.write(req);
    await done;
  }
  sock.end();
  return out;
}

type Stamps = Map<number, Partial<Record<TraceStage, number>>>;

/** A node's dump: the earliest stamp of each stage per index (an ack or App may be repeated). */
function load(file: string): Stamps {
  const { stamps } = JSON.parse(readFileSync(file, 'utf8')) as { stamps: { stage: TraceStage; index: number; ns: number }[] };
  const by: Stamps = new Map();
  for (const s of stamps) {
    let row = by.get(s.index);
    if (!row) {
      row = {};
      by.set(s.index, row);
    }
    const prev = row[s.stage];
    if (prev === undefined || s.ns < prev) row[s.stage] = s.ns;
  }
  return by;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};

/** The stages of the waterfall: leader (L) and committing follower (F), critical path order. */
const LINES: { label: string; node: 'client' | 'L' | 'F'; stage: TraceStage | 'send' | 'reply' }[] = [
  { label: 'client sends SET', node: 'client', stage: 'send' },
  { label: 'leader: bytes arrive', node: 'L', stage: 'received' },
  { label: 'leader: parsed, proposed', node: 'L', stage: 'proposed' },
  { label: 'leader: batch handed to core', node: 'L', stage: 'batched' },
  { label: 'leader: App to transport', node: 'L', stage: 'sent' },
  { label: 'leader: save start', node: 'L', stage: 'saveStart' },
  { label: 'follower: App arrives', node: 'F', stage: 'peerReceived' },
  { label: 'follower: save start', node: 'F', stage: 'saveStart' },
  { label: 'leader: save durable', node: 'L', stage: 'saveEnd' },
  { label: 'follower: save durable', node: 'F', stage: 'saveEnd' },
  { label: 'follower: ack to transport', node: 'F', stage: 'ackSent' },
  { label: 'leader: ack arrives', node: 'L', stage: 'ackReceived' },
  { label: 'leader: committed (Ready)', node: 'L', stage: 'committed' },
  { label: 'leader: applied', node: 'L', stage: 'applied' },
  { label: 'leader: reply settled', node: 'L', stage: 'settled' },
  { label: 'leader: reply written', node: 'L', stage: 'replied' },
  { label: 'client has the reply', node: 'client', stage: 'reply' },
];

installSignalCleanup();
try {
  const writes = Number(values.writes);
  const warmup = Number(values.warmup);
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-trace-'));
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  const main = values.main ?? (values.tsx ? undefined : await buildRaftKV());
  const h = await startRaftKV(main, ['--trace-writes', dir]);
  const leader = await h.waitLeader();
  await drive(leader.port, warmup, 'warm');
  const t0 = now();
  const client = await drive(leader.port, writes, 'trace');
  for (const n of h.nodes) n.proc!.kill('SIGUSR2');
  const files = h.nodes.map((n) => join(dir, `${n.id}.trace.json`));
  for (let i = 0; i < 100 && !files.every((f) => existsSync(f)); i++) await new Promise((r) => setTimeout(r, 50));
  const L = load(files[h.nodes.indexOf(leader)]!);
  const followers = h.nodes.filter((n) => n !== leader).map((n) => load(files[h.nodes.indexOf(n)]!));
  // The traced writes: proposed on the leader after t0, in index order, one per client request.
  const indexes = [...L.entries()]
    .filter(([, r]) => r.received !== undefined && r.received >= t0 && r.replied !== undefined)
    .map(([i]) => i)
    .sort((a, b) => a - b);
  if (indexes.length !== client.length) throw new Error(`${client.length} SETs but ${indexes.length} traced writes on the leader`);
  const offsets = new Map<string, number[]>(LINES.map((l) => [l.label, []]));
  const steps = new Map<string, number[]>(LINES.map((l) => [l.label, []]));
  indexes.forEach((index, k) => {
    const c = client[k]!;
    const l = L.get(index)!;
    const f = followers
      .map((s) => s.get(index))
      .filter((r) => r?.ackSent !== undefined)
      .sort((a, b) => a!.ackSent! - b!.ackSent!)[0];
    let prev = c.sent;
    for (const line of LINES) {
      const t = line.node === 'client' ? (line.stage === 'send' ? c.sent : c.got) : (line.node === 'L' ? l : f)?.[line.stage as TraceStage];
      if (t === undefined) continue;
      offsets.get(line.label)!.push((t - c.sent) / 1000);
      steps.get(line.label)!.push((t - prev) / 1000);
      prev = t;
    }
  });
  const total = client.map((c) => (c.got - c.sent) / 1000);
  console.log(`${writes} single-client SETs (after ${warmup} warm-up), fsync on, 3 nodes; load ${loadavg()[0]!.toFixed(2)}`);
  console.log(`client round trip: p50 ${median(total).toFixed(0)} us, p90 ${pct(total, 0.9).toFixed(0)} us, p99 ${pct(total, 0.99).toFixed(0)} us\n`);
  const scale = 50 / median(total);
  console.log(`${'stage'.padEnd(32)} ${'at (us)'.padStart(8)} ${'step'.padStart(6)}  waterfall (medians)`);
  const rows: { stage: string; atUs: number; stepUs: number }[] = [];
  for (const line of LINES) {
    const at = median(offsets.get(line.label)!);
    const step = median(steps.get(line.label)!);
    rows.push({ stage: line.label, atUs: at, stepUs: step });
    const start = Math.max(0, Math.round((at - Math.max(0, step)) * scale));
    const len = Math.max(1, Math.round(Math.max(0, step) * scale));
    console.log(`${line.label.padEnd(32)} ${at.toFixed(0).padStart(8)} ${step.toFixed(0).padStart(6)}  ${' '.repeat(start)}${'#'.repeat(len)}`);
  }
  console.log(`\n(${TRACE_STAGES.length} node stages; "step" is the median time from the line above in the same write)`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ writes, p50Us: median(total), rows }, null, 2));
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
