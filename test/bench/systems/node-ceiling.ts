/** The Node.js ceiling (node-ceiling-server.mjs) as a bench system: started, PINGed, stopped. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, onCleanup, ProcessExitedError, sleep, spawnLogged, tempDir } from '../procs.ts';
import { RespClient } from '../resp-client.ts';

const SERVER = fileURLToPath(new URL('./node-ceiling-server.mjs', import.meta.url));

export interface CeilingHandle {
  port: number;
  proc: ChildProcess;
}

export async function startNodeCeiling(): Promise<CeilingHandle> {
  const port = await freePort();
  const logFile = join(tempDir('raftkv-bench-node-ceiling-'), 'server.log');
  const proc = spawnLogged(process.execPath, [SERVER, String(port)], logFile);
  onCleanup(async () => {
    proc.kill('SIGKILL');
  });
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new ProcessExitedError('node-ceiling', proc.exitCode, logFile);
    try {
      const c = await RespClient.connect(port, 500);
      const pong = await c.command('PING');
      c.close();
      if (pong === 'PONG') return { port, proc };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`the Node ceiling server did not answer PING on ${port}`);
}
