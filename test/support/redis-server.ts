/**
 * A real redis-server (Debian's `redis-server`, which .ci/run installs) on a free loopback port,
 * without persistence, for differential tests. It is a hard requirement: a missing binary
 * fails the test instead of skipping it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './cluster-harness.ts';

export class RedisServer {
  private readonly clients: Redis[] = [];

  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
    private readonly dir: string,
  ) {}

  /**
   * Starts one on a free port. freePort() only finds a port free at that moment: another test
   * process may bind it first, and then redis-server exits saying so; it starts over on another.
   */
  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await RedisServer.startOn(await freePort(), extraArgs);
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt === 3) throw err;
      }
    }
  }

  private static async startOn(port: number, extraArgs: string[]): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'raftkv-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs];
    // redis-server logs to stdout: keep it for the error.
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => {
      if (output.length < 16_384) output += String(d);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const exited = new Promise<never>((_, reject) => {
      proc.once('error', (err) => reject(new Error(`cannot run redis-server (apt-get install redis-server): ${err.message}`)));
      proc.once('exit', (code) => {
        rmSync(dir, { recursive: true, force: true });
        const why = `redis-server exited with ${code}: ${output.trim()}`;
        reject(/Address already in use/.test(output) ? new PortTakenError(why) : new Error(why));
      });
    });
    let failed: Error | undefined;
    exited.catch((err: Error) => {
      failed = err;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (failed) throw failed;
      // The log line, not a connection: the port may be someone else's.
      if (/Ready to accept connections/.test(output) && (await canConnect(port))) break;
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}: ${output.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Stop reading the log once it is up; nothing else needs it.
    proc.stdout?.removeListener('data', keep);
    proc.stdout?.resume();
    return new RedisServer(port, proc, dir);
  }

  /** A connected ioredis client of this server; stop() disconnects it. */
  async client(): Promise<Redis> {
    const redis = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true });
    this.clients.push(redis);
    await redis.connect();
    return redis;
  }

  async stop(): Promise<void> {
    for (const c of this.clients.splice(0)) c.disconnect();
    if (this.proc.exitCode === null) {
      const gone = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGKILL');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class PortTakenError extends Error {}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
