/**
 * What this machine costs before RaftKV does anything: the floor under single-client latency
 * (issue 15 target 3). Prints
 * - the loopback round trip between two Node processes (setNoDelay), back to back and after
 *   1 ms idle (a wake-up from sleep, as a lone client's requests see);
 * - a 120-byte `classic-level` put with `sync: true`, by 1, 2 and 3 processes at once on the
 *   same disk (a 3-node cluster on one machine shares one ext4 journal), and the CPU each costs
 *   its process (user + system over all its threads: the libuv thread that writes and syncs);
 * - raw `write` + `fdatasync` on a file, for what LevelDB adds, with its CPU too.
 * The CPU of a sync write is what every replication round costs every node that saves, so the
 * rounds per SET (how many writes share one) set most of CPU per SET (docs/performance.md).
 *
 *   npx tsx test/bench/machine-floor.ts [--seconds 4]
 */
import { fork } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClassicLevel } from 'classic-level';
import { cleanup, installSignalCleanup, tempDir } from './procs.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, role: { type: 'string' }, dir: { type: 'string' } } });
const seconds = Number(values.seconds);
const us = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e3;
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Child: echoes every read back. */
function echo(): void {
  const server = net.createServer((c) => {
    c.setNoDelay(true);
    c.on('data', (d) => c.write(d));
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as net.AddressInfo).port));
}

/** CPU (user + system, all threads) this process used since `from`, in µs. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return d.user + d.system;
};

/** Child: sync puts for `seconds`; sends back their p50 and CPU per put in µs. */
async function puts(dir: string): Promise<void> {
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer' });
  await db.open();
  const value = Buffer.alloc(120, 'x');
  const xs: number[] = [];
  const cpu0 = process.cpuUsage();
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const t0 = process.hrtime.bigint();
    await db.put(`k${i}`, value, { sync: true });
    xs.push(us(t0));
  }
  const cpu = cpuSince(cpu0) / xs.length;
  await db.close();
  process.send!({ p50: p50(xs), cpu }, () => process.exit(0));
}

function child(role: string, args: string[] = []) {
  return fork(new URL(import.meta.url).pathname, ['--role', role, '--seconds', String(seconds), ...args], { execArgv: ['--import', 'tsx'] });
}

async function roundTrips(): Promise<void> {
  const p = child('echo');
  const port = await new Promise<number>((resolve) => p.once('message', (m) => resolve(m as number)));
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve) => sock.once('connect', resolve));
  const ping = async () => {
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => {
      sock.once('data', resolve);
      sock.write('ping\r\n');
    });
    return us(t0);
  };
  const busy: number[] = [];
  for (let i = 0; i < 3000; i++) busy.push(await ping());
  const idle: number[] = [];
  for (let i = 0; i < 1000; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    idle.push(await ping());
  }
  sock.destroy();
  p.kill();
  console.log(`loopback RTT between two Node processes: p50 ${p50(busy).toFixed(0)} us back to back, ${p50(idle).toFixed(0)} us after 1 ms idle`);
}

async function syncPuts(dir: string): Promise<void> {
  for (const n of [1, 2, 3]) {
    const kids = Array.from({ length: n }, (_, i) => child('puts', ['--dir', join(dir, `db-${n}-${i}`)]));
    type Got = { p50: number; cpu: number };
    const got = await Promise.all(kids.map((k) => new Promise<Got>((resolve) => k.once('message', (m) => resolve(m as Got)))));
    const list = (f: (g: Got) => number) => got.map((g) => f(g).toFixed(0)).join(', ');
    console.log(`LevelDB put, sync, 120 B, ${n} process(es) at once: p50 ${list((g) => g.p50)} us, CPU ${list((g) => g.cpu)} us per put`);
  }
  const fd = openSync(join(dir, 'raw'), 'a');
  const xs: number[] = [];
  const block = Buffer.alloc(120, 'x');
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < 2000; i++) {
    const t0 = process.hrtime.bigint();
    writeSync(fd, block);
    fdatasyncSync(fd);
    xs.push(us(t0));
  }
  const cpu = cpuSince(cpu0) / xs.length;
  closeSync(fd);
  console.log(`write + fdatasync, 120 B, one process: p50 ${p50(xs).toFixed(0)} us, CPU ${cpu.toFixed(0)} us per write`);
}

if (values.role === 'echo') echo();
else if (values.role === 'puts') await puts(values.dir!);
else {
  installSignalCleanup();
  try {
    await roundTrips();
    await syncPuts(tempDir('raftkv-floor-'));
  } finally {
    await cleanup();
  }
}
