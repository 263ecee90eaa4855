/**
 * Replicated-write load for RaftKV: N connections, each with exactly one SET outstanding
 * (closed loop, like the etcd Go client's goroutines), 16-byte values, per-op latency.
 * Runs as its own process so its CPU is its own and can be reported next to the result.
 *
 *   node --import tsx test/bench/resp-load.ts --port P --clients N --seconds S [--value-bytes 16] [--warmup S]
 * Prints one JSON LoadResult line.
 */
import { parseArgs } from 'node:util';
import { type LoadResult, summarize } from './load-result.ts';
import { encodeCommand, RespClient } from './resp-client.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    clients: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'value-bytes': { type: 'string', default: '16' },
    system: { type: 'string', default: 'raftkv' },
  },
});
const port = Number(values.port);
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const warmupMs = Number(values.warmup) * 1000;
const value = Buffer.alloc(Number(values['value-bytes']), 'v');

// Pre-encoded commands: per-client key space of 1000 keys so the store grows to a steady size.
const KEYS = 1000;
const conns = await Promise.all(Array.from({ length: clients }, () => RespClient.connect(port)));
const encoded = conns.map((_, c) => Array.from({ length: KEYS }, (_, k) => encodeCommand(['SET', `bench:${c}:${k}`, value])));

const latencies = new Float64Array(Math.max(1_000_000, clients * 200_000));
let n = 0;
let errors = 0;
let recording = false;
let stopped = false;

async function loop(c: number): Promise<void> {
  const client = conns[c]!;
  let k = 0;
  while (!stopped) {
    const t0 = performance.now();
    const reply = await client.sendRaw(encoded[c]![k++ % KEYS]!);
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
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
recording = false;
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stopped = true;
await Promise.allSettled(loops);
for (const c of conns) c.close();
const result: LoadResult = summarize(values.system, clients, latencies.subarray(0, n), errors, elapsed, (cpu.user + cpu.system) / 1e6 / elapsed);
console.log(JSON.stringify(result));
