/**
 * Replicated-write load for a sharded RaftKV (issue 13), the cluster-aware twin of
 * resp-load.ts: N closed-loop clients, each with exactly one SET outstanding, 16-byte values,
 * per-op latency. It reads `CLUSTER SLOTS` once and sends each key to its slot's leader, as a
 * Redis Cluster client does; each client holds one connection per node (as one ioredis
 * `Cluster` instance does), so every connection carries at most one request at a time and a
 * SET costs the nodes the same reads and writes as in resp-load.ts, whatever the shard count.
 * A `MOVED` reply (a leader moved mid-run) updates the slot's owner and the SET is sent again
 * there; its latency runs from the first send. No ioredis in the hot path: the generator's own
 * CPU must stay well below the nodes' (it is reported as `generatorCpu`).
 *
 * With `--pids`, it also reads each node's CPU from /proc/<pid>/stat (and its syscall counts
 * from /proc/<pid>/io) at the start and the end of the measured window, so CPU per SET counts
 * exactly the window's work (no warm-up, no connection set-up).
 *
 *   node --import tsx test/bench/cluster-load.ts --ports P1,P2,P3 --clients N --seconds S [--pids A,B,C] [--warmup S] [--value-bytes 16]
 * Prints one JSON ClusterLoadResult line.
 */
import { parseArgs } from 'node:util';
import { keyHashSlot, SLOT_COUNT } from '../../src/resp/slot.ts';
import { type ClusterLoadResult, summarize } from './load-result.ts';
import { cpuSeconds, ioCounts } from './procs.ts';
import { encodeCommand, type Reply, RespClient } from './resp-client.ts';

/** slot -> index into `ports` of the node that leads it, from CLUSTER SLOTS (-1: nobody). */
function slotOwners(reply: Reply, ports: number[]): Int32Array {
  const owners = new Int32Array(SLOT_COUNT).fill(-1);
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS answered ${String(reply)}`);
  for (const range of reply) {
    const [start, end, master] = range as [number, number, Reply[]];
    const idx = ports.indexOf(Number(master[1]));
    if (idx < 0) throw new Error(`CLUSTER SLOTS names port ${String(master[1])}, not one of ${ports.join(',')}`);
    owners.fill(idx, start, end + 1);
  }
  return owners;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ports: { type: 'string' },
      pids: { type: 'string', default: '' },
      clients: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      'value-bytes': { type: 'string', default: '16' },
      system: { type: 'string', default: 'raftkv' },
    },
  });
  const ports = (values.ports ?? '').split(',').map(Number);
  const pids = values.pids.split(',').filter(Boolean).map(Number);
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const warmupMs = Number(values.warmup) * 1000;
  const value = Buffer.alloc(Number(values['value-bytes']), 'v');

  const probe = await RespClient.connect(ports[0]!);
  const owners = slotOwners(await probe.command('CLUSTER', 'SLOTS'), ports);
  probe.close();
  if (owners.includes(-1)) throw new Error('CLUSTER SLOTS leaves slots without a leader');

  // Pre-encoded commands and their slots: per-client key space of 1000 keys, as resp-load.ts.
  const KEYS = 1000;
  const conns = await Promise.all(Array.from({ length: clients }, () => Promise.all(ports.map((p) => RespClient.connect(p)))));
  const encoded = conns.map((_, c) => Array.from({ length: KEYS }, (_, k) => encodeCommand(['SET', `bench:${c}:${k}`, value])));
  const slots = conns.map((_, c) => Int32Array.from({ length: KEYS }, (_, k) => keyHashSlot(Buffer.from(`bench:${c}:${k}`))));

  const latencies = new Float64Array(Math.max(1_000_000, clients * 200_000));
  const nodeOps = ports.map(() => 0);
  let n = 0;
  /** Every SET answered, warm-up included (what the nodes' counters around the run saw). */
  let answered = 0;
  let errors = 0;
  let moved = 0;
  let recording = false;
  let stopped = false;

  async function loop(c: number): Promise<void> {
    const mine = conns[c]!;
    let k = 0;
    while (!stopped) {
      const i = k++ % KEYS;
      const slot = slots[c]![i]!;
      const t0 = performance.now();
      let node = owners[slot]!;
      let reply = await mine[node]!.sendRaw(encoded[c]![i]!);
      // A leader moved: follow MOVED (at most twice, so a flapping map cannot spin here).
      for (let hops = 0; reply instanceof Error && reply.message.startsWith('MOVED ') && hops < 2; hops++) {
        const to = ports.indexOf(Number(reply.message.split(' ')[2]!.split(':').pop()));
        if (to < 0) break;
        owners[slot] = node = to;
        if (recording) moved++;
        reply = await mine[node]!.sendRaw(encoded[c]![i]!);
      }
      const dt = performance.now() - t0;
      if (!(reply instanceof Error)) answered++;
      if (!recording) continue;
      if (reply instanceof Error) errors++;
      else if (n < latencies.length) {
        latencies[n++] = dt;
        nodeOps[node]!++;
      }
    }
  }

  const loops = conns.map((_, c) => loop(c));
  await new Promise((r) => setTimeout(r, warmupMs));
  recording = true;
  const cpu0 = process.cpuUsage();
  const nodes0 = pids.map(cpuSeconds);
  const io0 = pids.map(ioCounts);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  recording = false;
  const nodes1 = pids.map(cpuSeconds);
  const io1 = pids.map(ioCounts);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  stopped = true;
  await Promise.allSettled(loops);
  for (const c of conns) for (const conn of c) conn.close();
  const base = summarize(values.system, clients, latencies.subarray(0, n), errors, elapsed, (cpu.user + cpu.system) / 1e6 / elapsed);
  const nodeCpu = nodes1.map((a, i) => ({ user: a.user - nodes0[i]!.user, system: a.system - nodes0[i]!.system, main: a.main - nodes0[i]!.main }));
  const nodeIo = io1.map((a, i) => ({ syscr: a.syscr - io0[i]!.syscr, syscw: a.syscw - io0[i]!.syscw, wchar: a.wchar - io0[i]!.wchar }));
  const result: ClusterLoadResult = { ...base, moved, nodeOps, nodeCpu, nodeIo, answered };
  console.log(JSON.stringify(result));
}

await main();
