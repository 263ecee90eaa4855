/**
 * Replicated-write load for RaftKV: N connections, each with exactly one SET outstanding
 * (closed loop, like the etcd Go client's goroutines), 16-byte values, per-op latency.
 * Runs as its own process so its CPU is its own and can be reported next to the result.
 * `--mix cache|strings` sends a read-mostly mix instead (mix.ts, issue 15 target 7).
 *
 * With `--pids`, it reads each node's CPU from /proc/<pid>/stat at the start and the end of
 * the measured window (as cluster-load.ts does), so CPU per op counts exactly the window's work.
 *
 *   node --import tsx test/bench/resp-load.ts --port P --clients N --seconds S [--value-bytes 16] [--warmup S]
 *                                             [--mix set|cache|strings] [--pids A,B,C] [--rate OPS_PER_S]
 *                                             [--alternate strings,cache --window S]
 * Prints one JSON LoadResult line.
 *
 * `--alternate A,B` compares two mixes in one run: every client switches between them each
 * `--window` seconds, and each window's node CPU and answered ops count for the mix it ran.
 * Back-to-back runs of a few seconds each were at the mercy of slow stretches (a paced round
 * whose latency rose had bigger batches and half the CPU per op, whichever mix it was); in
 * one-second windows a slow stretch falls on both. Prints one JSON line: an array of two
 * LoadResults, A's then B's.
 */
import { parseArgs } from 'node:util';
import { type LoadResult, summarize } from './load-result.ts';
import { commandsFor, parseMix, preload } from './mix.ts';
import { cpuSeconds } from './procs.ts';
import { RespClient } from './resp-client.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    clients: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'value-bytes': { type: 'string', default: '16' },
    system: { type: 'string', default: 'raftkv' },
    mix: { type: 'string', default: 'set' },
    pids: { type: 'string', default: '' },
    rate: { type: 'string', default: '0' },
    alternate: { type: 'string', default: '' },
    window: { type: 'string', default: '1' },
  },
});
const port = Number(values.port);
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const warmupMs = Number(values.warmup) * 1000;
const value = Buffer.alloc(Number(values['value-bytes']), 'v');
const mixes = values.alternate ? values.alternate.split(',').map(parseMix) : [parseMix(values.mix)];
if (values.alternate && mixes.length !== 2) throw new Error(`--alternate takes two mixes, got ${values.alternate}`);
const pids = values.pids.split(',').filter(Boolean).map(Number);

// Pre-encoded commands: per-client key space of 1000 keys so the store grows to a steady size.
const conns = await Promise.all(Array.from({ length: clients }, () => RespClient.connect(port)));
const encoded = mixes.map((mix) => conns.map((_, c) => commandsFor(mix, c, value)));
// Every client's preload pipelined at once: one round of replication, not one per client.
const preloaded = await Promise.all(mixes.flatMap((mix) => conns.flatMap((conn, c) => preload(mix, c, value).map((cmd) => conn.sendRaw(cmd)))));
const failed = preloaded.find((r) => r instanceof Error);
if (failed) throw failed;

/** One mix's share of the measured window: its latencies, errors and node CPU. */
class Tally {
  readonly latencies = new Float64Array(Math.max(1_000_000, clients * 200_000));
  n = 0;
  errors = 0;
  seconds = 0;
  nodeCpu = pids.map(() => ({ user: 0, system: 0, main: 0 }));
}
const tallies = mixes.map(() => new Tally());
/** Which mix the clients send now. */
let active = 0;
let recording = false;
let stopped = false;

// --rate R: each client paces itself to R / clients requests per second (staggered), so two
// mixes compared by CPU per op run at the same throughput: a replicated write's CPU depends on
// how many share a batch, so a closed loop whose speed the machine's load sets would confound them.
const paceMs = Number(values.rate) > 0 ? (1000 * clients) / Number(values.rate) : 0;

async function loop(c: number): Promise<void> {
  const client = conns[c]!;
  let k = 0;
  let next = performance.now() + (paceMs * c) / clients;
  while (!stopped) {
    if (paceMs > 0) {
      // Behind schedule (a slow reply): no burst to catch up beyond one interval.
      next = Math.max(next + paceMs, performance.now() - paceMs);
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const t0 = performance.now();
    const cmds = encoded[active]![c]!;
    const reply = await client.sendRaw(cmds[k++ % cmds.length]!);
    const dt = performance.now() - t0;
    if (!recording) continue;
    // An answer counts for the window it arrives in, as the CPU of that window does.
    const t = tallies[active]!;
    if (reply instanceof Error) t.errors++;
    else if (t.n < t.latencies.length) t.latencies[t.n++] = dt;
  }
}

const loops = conns.map((_, c) => loop(c));
await new Promise((r) => setTimeout(r, warmupMs));
recording = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const windowMs = mixes.length > 1 ? Number(values.window) * 1000 : seconds * 1000;
// Each window starts where the last ended: no CPU falls between two.
let nodes0 = pids.map(cpuSeconds);
for (let at = 0; at < seconds * 1000; at += windowMs) {
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, Math.min(windowMs, seconds * 1000 - at)));
  const nodes1 = pids.map(cpuSeconds);
  const t = tallies[active]!;
  t.seconds += (performance.now() - w0) / 1000;
  nodes1.forEach((a, i) => {
    const b = nodes0[i]!;
    const into = t.nodeCpu[i]!;
    into.user += a.user - b.user;
    into.system += a.system - b.system;
    into.main += a.main - b.main;
  });
  nodes0 = nodes1;
  active = (active + 1) % mixes.length;
}
recording = false;
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stopped = true;
await Promise.allSettled(loops);
for (const c of conns) c.close();
const results: LoadResult[] = mixes.map((mix, i) => {
  const t = tallies[i]!;
  const system = mixes.length > 1 ? `raftkv-${mix}` : values.system;
  const r = summarize(system, clients, t.latencies.subarray(0, t.n), t.errors, t.seconds, (cpu.user + cpu.system) / 1e6 / elapsed);
  if (pids.length > 0) r.nodeCpu = t.nodeCpu;
  return r;
});
console.log(JSON.stringify(mixes.length > 1 ? results : results[0]));
