/** A real redis-server on a free loopback port: no persistence, or AOF with fsync on every write. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, onCleanup, ProcessExitedError, sleep, spawnLogged, tempDir } from '../procs.ts';
import { RespClient } from '../resp-client.ts';

export interface RedisHandle {
  name: string;
  port: number;
  proc: ChildProcess;
}

export async function startRedis(name: string, durable: boolean): Promise<RedisHandle> {
  const dir = tempDir(`raftkv-bench-${name}-`);
  const port = await freePort();
  const persistence = durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const logFile = join(dir, 'redis.log');
  const proc = spawnLogged('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...persistence], logFile);
  onCleanup(async () => {
    proc.kill('SIGKILL');
  });
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new ProcessExitedError(name, proc.exitCode, logFile);
    try {
      const c = await RespClient.connect(port, 500);
      const pong = await c.command('PING');
      c.close();
      if (pong === 'PONG') return { name, port, proc };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${name} did not answer PING on ${port}`);
}
