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
 * Prints one JSON LoadResult line.
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
  },
});
const port = Number(values.port);
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const warmupMs = Number(values.warmup) * 1000;
const value = Buffer.alloc(Number(values['value-bytes']), 'v');
const mix = parseMix(values.mix);
const pids = values.pids.split(',').filter(Boolean).map(Number);

// Pre-encoded commands: per-client key space of 1000 keys so the store grows to a steady size.
const conns = await Promise.all(Array.from({ length: clients }, () => RespClient.connect(port)));
const encoded = conns.map((_, c) => commandsFor(mix, c, value));
// Every client's preload pipelined at once: one round of replication, not one per client.
const preloaded = await Promise.all(conns.flatMap((conn, c) => preload(mix, c, value).map((cmd) => conn.sendRaw(cmd))));
const failed = preloaded.find((r) => r instanceof Error);
if (failed) throw failed;

const latencies = new Float64Array(Math.max(1_000_000, clients * 200_000));
let n = 0;
let errors = 0;
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
    const reply = await client.sendRaw(encoded[c]![k++ % encoded[c]!.length]!);
    const dt = performance.now() - t0;
    if (!recording) continue;
    if (reply instanceof Error) errors++;
    else if (n < latencies.length) latencies[n++] = dt;
  }
}

const loops = conns.map((_, c) => loop(c));
await new Promise((r) => setTimeout(r, warmupMs));
recording = true;
const cpu0 = process.cpuUsage();
const nodes0 = pids.map(cpuSeconds);
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
recording = false;
const nodes1 = pids.map(cpuSeconds);
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stopped = true;
await Promise.allSettled(loops);
for (const c of conns) c.close();
const result: LoadResult = summarize(values.system, clients, latencies.subarray(0, n), errors, elapsed, (cpu.user + cpu.system) / 1e6 / elapsed);
if (pids.length > 0)
  result.nodeCpu = nodes1.map((a, i) => ({ user: a.user - nodes0[i]!.user, system: a.system - nodes0[i]!.system, main: a.main - nodes0[i]!.main }));
console.log(JSON.stringify(result));
