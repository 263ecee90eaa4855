/**
 * The well-behaved client runs in its own process: the fuzzer's main thread builds multi-MiB
 * inputs synchronously, and a probe sharing its event loop would measure the fuzzer's pauses
 * instead of the node's. Messages: the child says `ready` once the node answered, then one
 * `stall` per failed check; `finish` asks for a last check and the number of checks made.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StallEvent } from './probe.ts';

const MAIN = fileURLToPath(new URL('./probe-main.ts', import.meta.url));

export type ProbeMessage =
  | { type: 'ready' }
  | { type: 'not-ready'; why: string }
  | { type: 'stall'; event: StallEvent }
  | { type: 'finished'; checks: number; last: string | null };

export interface ProbeArgs {
  port: number;
  password: string;
  stallMs: number;
  everyMs: number;
  readyTimeoutMs: number;
}

export class ProbeProcess {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private finished: ((m: { checks: number; last: string | null }) => void) | undefined;

  constructor(args: ProbeArgs, onStall: (e: StallEvent) => void) {
    this.child = fork(MAIN, [JSON.stringify(args)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (m: ProbeMessage) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'not-ready') reject(new Error(`the node never answered the well-behaved client: ${m.why}`));
        else if (m.type === 'stall') onStall(m.event);
        else if (m.type === 'finished') this.finished?.(m);
      });
      this.child.once('exit', (code) => reject(new Error(`the probe process exited with ${code}`)));
    });
  }

  /** Resolves once the node answered one check; the periodic checks start then. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Stops the periodic checks, makes one last check and reports it. */
  finish(): Promise<{ checks: number; last: string | null }> {
    return new Promise((resolve) => {
      this.finished = resolve;
      this.child.send({ type: 'finish' });
    });
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
