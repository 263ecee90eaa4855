/**
 * The three client-memory attacks of issue 10, each against a fresh one-node cluster in its
 * default settings, with the node's RSS before and at its peak, whether the node survived,
 * and the slowest answer a well-behaved client on another connection got meanwhile. The
 * figures in docs/security.md come from here:
 *
 *   npx tsx test/bench/hostile-clients.ts [--heap-mib 256] [extra node flags...]
 */
import { ClusterHarness } from '../support/cluster-harness.ts';
import { command, emptyBulkFlood, Probe, RssSampler, rawSocket, rssMiB, send } from '../support/hostile-clients.ts';

const args = process.argv.slice(2);
const heapAt = args.indexOf('--heap-mib');
const heap = heapAt >= 0 ? Number(args.splice(heapAt, 2)[1]) : 0;

interface Outcome {
  attack: string;
  beforeMiB: number;
  peakMiB: number;
  alive: boolean;
  probeWorstMs: number;
  probeFailures: number;
  note: string;
}

async function run(attack: string, body: (port: number) => Promise<string>): Promise<Outcome> {
  const cluster = new ClusterHarness({ nodes: 1, extraArgs: args });
  if (heap > 0) process.env.NODE_OPTIONS = `--max-old-space-size=${heap}`;
  await cluster.start();
  const h = (await cluster.waitLeader()) ?? cluster.nodes[0];
  const pid = h.proc?.pid as number;
  const probe = new Probe(h.port);
  await new Promise((r) => setTimeout(r, 1000));
  const beforeMiB = rssMiB(pid);
  const sampler = new RssSampler(pid);
  let note = '';
  try {
    note = await body(h.port);
  } catch (err) {
    note = `attack ended: ${(err as Error).message}`;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const peakMiB = sampler.stop();
  await probe.stop();
  const alive = h.exitCode === undefined;
  await cluster.stop();
  return { attack, beforeMiB, peakMiB, alive, probeWorstMs: probe.worstMs, probeFailures: probe.failures.length, note };
}

const outcomes: Outcome[] = [];

outcomes.push(
  await run('*2147483647 then 5M $0 (30 MB)', async (port) => {
    const s = await rawSocket(port);
    const r = await emptyBulkFlood(s, 2147483647, 5_000_000);
    s.destroy();
    return `sent ${r.sent} args, closed by server: ${r.closed}`;
  }),
);

outcomes.push(
  await run('*4000000 (fits one entry) then 5M $0', async (port) => {
    const s = await rawSocket(port);
    const r = await emptyBulkFlood(s, 4_000_000, 5_000_000);
    s.destroy();
    return `sent ${r.sent} args, closed by server: ${r.closed}`;
  }),
);

outcomes.push(
  await run('1024 pipelined GET of 512 KiB, never read', async (port) => {
    const setter = await rawSocket(port);
    await send(setter, command('SET', 'big', Buffer.alloc(512 * 1024, 0x61)));
    await new Promise((r) => setTimeout(r, 300));
    setter.destroy();
    const s = await rawSocket(port);
    s.pause();
    const one = command('GET', 'big');
    await send(s, Buffer.concat(Array.from({ length: 1024 }, () => one)));
    await new Promise((r) => setTimeout(r, 3000));
    s.destroy();
    return 'held 3 s';
  }),
);

outcomes.push(
  await run('MULTI + 200 x 1 MiB SET, then EXEC', async (port) => {
    const s = await rawSocket(port);
    let replies = '';
    s.on('data', (d: Buffer) => {
      replies = (replies + d.toString('latin1')).slice(-200);
    });
    await send(s, command('MULTI'));
    const value = Buffer.alloc(1024 * 1024, 0x62);
    for (let i = 0; i < 200; i++) if (!(await send(s, command('SET', `k${i}`, value)))) return `closed after ${i} SETs`;
    await send(s, command('EXEC'));
    await new Promise((r) => setTimeout(r, 500));
    s.destroy();
    return `last reply: ${replies.trim().split('\r\n').pop()}`;
  }),
);

for (const o of outcomes) {
  console.log(
    `${o.attack}: RSS ${o.beforeMiB.toFixed(0)} -> ${o.peakMiB.toFixed(0)} MiB (+${(o.peakMiB - o.beforeMiB).toFixed(0)}), ` +
      `${o.alive ? 'alive' : 'DEAD'}, probe worst ${o.probeWorstMs.toFixed(0)} ms, ${o.probeFailures} failures; ${o.note}`,
  );
}
process.exit(0);
