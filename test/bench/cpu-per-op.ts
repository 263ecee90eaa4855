/**
 * CPU time each RaftKV node spends per replicated SET, from /proc/<pid>/stat: a figure that the
 * machine's load moves far less than ops/s or latency, so two builds can be compared on a busy
 * 2-core machine. Starts the compiled 3-node cluster, warms up, then runs the closed-loop SET
 * generator and divides each node's user+system CPU by the operations done.
 *
 *   npx tsx test/bench/cpu-per-op.ts [--clients 64] [--seconds 6] [--tsx] [--preload N]
 *
 * --preload N first loads N keys (memory.ts's 16-byte keys, 100-byte values): with a large
 * live heap each major GC marks more, so what the GC costs a SET shows at a realistic size.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadKeys } from './memory.ts';
import { cleanup, installSignalCleanup } from './procs.ts';
import { buildRaftKV, raftkvLoad, startRaftKV } from './systems/raftkv.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '6' },
    tsx: { type: 'boolean', default: false },
    preload: { type: 'string', default: '0' },
  },
});

/** utime + stime in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

installSignalCleanup();
try {
  const clients = Number(values.clients);
  const h = await startRaftKV(values.tsx ? undefined : await buildRaftKV());
  const leader = await h.waitLeader();
  if (Number(values.preload) > 0) await loadKeys(leader.port, Number(values.preload));
  await raftkvLoad(leader, clients, 2);
  const pids = h.nodes.map((n) => n.proc!.pid!);
  const before = pids.map(cpuTicks);
  const r = await raftkvLoad(leader, clients, Number(values.seconds));
  const after = pids.map(cpuTicks);
  const ops = r.opsPerSec * r.seconds;
  const perOp = (ticks: number) => ((ticks / 100) * 1e6) / ops;
  console.log(
    `${clients} clients: ${r.opsPerSec.toFixed(0)} SET/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, p99.9 ${r.p999Ms.toFixed(2)} ms, load ${loadavg()[0]!.toFixed(2)}`,
  );
  h.nodes.forEach((n, i) => {
    const user = after[i]!.user - before[i]!.user;
    const system = after[i]!.system - before[i]!.system;
    const role = n === leader ? 'leader  ' : 'follower';
    console.log(`  ${n.id} ${role} CPU per SET: ${perOp(user + system).toFixed(0)} us (user ${perOp(user).toFixed(0)}, system ${perOp(system).toFixed(0)})`);
  });
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
