/**
 * The memory attacks of issue 10 as reusable pieces, for the tests (test/resp-node/
 * client-memory.test.ts) and the before/after measurement (test/bench/hostile-clients.ts):
 * raw sockets that send what a hostile client sends, the node's RSS from /proc, and a
 * well-behaved probe client on another connection whose every answer is checked and timed.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';

/** A process's resident set in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; `peak` is the highest seen. */
export class RssSampler {
  peak: number;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    everyMs = 20,
  ) {
    this.peak = rssMiB(pid);
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): number {
    let now = 0;
    try {
      now = rssMiB(this.pid);
    } catch {
      return 0; // the process is gone: the caller's liveness check says so
    }
    if (now > this.peak) this.peak = now;
    return now;
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

/** A connected raw socket (nothing parsed: the attacker does not care about replies). */
export function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Writes and waits until the socket takes more; false once the server closed the connection. */
export async function send(s: Socket, data: Buffer | string): Promise<boolean> {
  if (s.destroyed || s.writableEnded) return false;
  if (s.write(data)) return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      s.off('drain', onDrain);
      s.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    s.once('drain', onDrain);
    s.once('close', onClose);
  });
}

/** Resolves once the server closed `s`, or with false after `ms`. */
export function closedWithin(s: Socket, ms: number): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true);
  // A socket that is not flowing never reads the server's FIN.
  s.resume();
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Everything the server sent on `s` (an attacker that reads only to see the error). */
export function collect(s: Socket): () => string {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return () => Buffer.concat(parts).toString('latin1');
}

export function command(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Attack 1: a multibulk header declaring `count` arguments, then `args` empty bulks
 * (`$0\r\n\r\n`, 6 bytes each) in 64 KiB writes. Returns how many it sent before the server
 * closed the connection (or all of them) and whether it was closed. `count` null sends no
 * header: more arguments of a request an earlier call began.
 */
export async function emptyBulkFlood(
  s: Socket,
  count: number | null,
  args: number,
  onChunk?: (sent: number) => void,
): Promise<{ sent: number; closed: boolean }> {
  // Flowing, so that the server's close is seen (what it sends is dropped unless listened to).
  s.resume();
  if (count !== null && !(await send(s, `*${count}\r\n`))) return { sent: 0, closed: true };
  const perChunk = 10_000;
  const chunk = Buffer.from('$0\r\n\r\n'.repeat(perChunk), 'latin1');
  let sent = 0;
  while (sent < args) {
    const n = Math.min(perChunk, args - sent);
    if (!(await send(s, n === perChunk ? chunk : chunk.subarray(0, n * 6)))) return { sent, closed: true };
    sent += n;
    onChunk?.(sent);
  }
  return { sent, closed: s.destroyed };
}

/**
 * A well-behaved client on its own connection, in a loop: SET a fresh value, GET it back,
 * check it. Records the slowest round trip and every wrong answer or error.
 */
export class Probe {
  worstMs = 0;
  rounds = 0;
  readonly failures: string[] = [];
  private running = true;
  private readonly done: Promise<void>;
  readonly client: Redis;

  constructor(port: number) {
    this.client = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: true });
    // Failures show up as failed rounds; the reconnect attempts' errors add nothing.
    this.client.on('error', () => {});
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const value = `v${this.rounds}-${Math.random()}`;
      const t0 = performance.now();
      try {
        await this.client.set('probe', value);
        const got = await this.client.get('probe');
        if (got !== value) this.failures.push(`round ${this.rounds}: GET answered ${got}, expected ${value}`);
      } catch (err) {
        this.failures.push(`round ${this.rounds}: ${(err as Error).message}`);
      }
      this.worstMs = Math.max(this.worstMs, performance.now() - t0);
      this.rounds++;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    this.client.disconnect();
  }
}

/** CLIENT LIST as field maps, read by `client` (ioredis). */
export async function clientList(client: Redis): Promise<Record<string, string>[]> {
  const text = (await client.call('CLIENT', 'LIST')) as string;
  return text
    .trim()
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

/** The CLIENT LIST entry whose addr is `s`'s local address. */
export async function clientOf(client: Redis, s: Socket): Promise<Record<string, string> | undefined> {
  const addr = `${s.localAddress}:${s.localPort}`;
  return (await clientList(client)).find((c) => c.addr === addr);
}
