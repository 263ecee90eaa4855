/**
 * A/B of two builds on the write path (issue 15), interleaved in one run so that the machine's
 * load hits both alike: each round starts build A's 3-node cluster, then build B's (compiled,
 * fsync on, defaults), and measures on each the CPU per replicated SET summed over the three
 * nodes (from /proc, at --clients; also less the idle cluster's CPU, measured first) and the
 * single-client SET p50. Rounds alternate A B, B A, ...
 *
 *   npx tsx test/bench/ab-write.ts --a <git rev> [--b <git rev>|worktree] [--rounds 2] [--clients 64] [--seconds 5]
 *
 * A revision is exported with `git archive` and compiled like the image by the test kit's
 * compileRevision (test/support/compile-raftkv.ts), which keeps it by commit under
 * .tmp/test-build/rev-<sha>/; "worktree" (the default for --b) compiles src/ as it is.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { compileRevision } from '../support/compile-raftkv.ts';
import { cleanup, installSignalCleanup, sleep } from './procs.ts';
import { buildRaftKV, raftkvLoad, startRaftKV } from './systems/raftkv.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: 'worktree' },
    rounds: { type: 'string', default: '2' },
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '5' },
  },
});

const IDLE_MS = 3000;

/** Compiles `rev` (or the work tree) and returns its compiled cli/main.js. */
async function build(rev: string): Promise<string> {
  return rev === 'worktree' ? buildRaftKV() : compileRevision(rev);
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

interface Sample {
  cpuUs: number;
  /** cpuUs less the idle cluster's CPU for as long as the load ran. */
  netUs: number;
  /** The same over idle, at one client: one commit Ready per SET. */
  netUs1: number;
  perNode: number[];
  opsPerSec: number;
  p50Ms1: number;
}

async function measure(main: string): Promise<Sample> {
  const h = await startRaftKV(main);
  try {
    const leader = await h.waitLeader();
    const clients = Number(values.clients);
    await raftkvLoad(leader, clients, 2);
    const pids = [leader, ...h.nodes.filter((n) => n !== leader)].map((n) => n.proc!.pid!);
    // The idle cluster's CPU (ticks, heartbeats), per second: on a machine so busy that the
    // load runs at a few hundred SET/s, it is much of the CPU per SET, and not the writes'.
    const idle0 = pids.map(cpuTicks);
    const i0 = performance.now();
    await sleep(IDLE_MS);
    const idlePerSec = (pids.map(cpuTicks).reduce((a, t, i) => a + t - idle0[i]!, 0) / 100 / (performance.now() - i0)) * 1000;
    const before = pids.map(cpuTicks);
    const r = await raftkvLoad(leader, clients, Number(values.seconds));
    const ops = r.opsPerSec * r.seconds;
    const perNode = pids.map((p, i) => (((cpuTicks(p) - before[i]!) / 100) * 1e6) / ops);
    const cpuUs = perNode.reduce((a, b) => a + b, 0);
    const before1 = pids.map(cpuTicks);
    const one = await raftkvLoad(leader, 1, Number(values.seconds));
    const ops1 = one.opsPerSec * one.seconds;
    const cpu1 = (pids.reduce((a, p, i) => a + cpuTicks(p) - before1[i]!, 0) / 100) * 1e6;
    const netUs1 = (cpu1 - idlePerSec * one.seconds * 1e6) / ops1;
    return { cpuUs, netUs: cpuUs - (idlePerSec * r.seconds * 1e6) / ops, perNode, opsPerSec: r.opsPerSec, p50Ms1: one.p50Ms, netUs1 };
  } finally {
    await h.stop();
  }
}

installSignalCleanup();
try {
  if (!values.a) throw new Error('--a <git rev> is required');
  const builds = { A: await build(values.a), B: await build(values.b) };
  const samples: Record<'A' | 'B', Sample[]> = { A: [], B: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const name of (round % 2 === 0 ? ['A', 'B'] : ['B', 'A']) as ('A' | 'B')[]) {
      const s = await measure(builds[name]);
      samples[name].push(s);
      const nodes = s.perNode.map((n) => n.toFixed(0)).join('/');
      console.log(
        `round ${round + 1} ${name}: CPU per SET ${s.cpuUs.toFixed(1)} us, ${s.netUs.toFixed(1)} over idle (leader/followers ${nodes}) at ${values.clients} clients, ${s.opsPerSec.toFixed(0)} SET/s; 1-client p50 ${(s.p50Ms1 * 1000).toFixed(0)} us, CPU ${s.netUs1.toFixed(1)} us over idle; load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const name of ['A', 'B'] as const) {
    const s = samples[name];
    console.log(
      `${name} (${name === 'A' ? values.a : values.b}): CPU per SET mean ${mean(s.map((x) => x.cpuUs)).toFixed(1)} us (${mean(s.map((x) => x.netUs)).toFixed(1)} over idle), 1-client p50 mean ${(mean(s.map((x) => x.p50Ms1)) * 1000).toFixed(0)} us (CPU ${mean(s.map((x) => x.netUs1)).toFixed(1)} us over idle), ${mean(s.map((x) => x.opsPerSec)).toFixed(0)} SET/s`,
    );
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
