/**
 * One RaftKV node process inside its network namespace: start, kill -9, SIGSTOP/SIGCONT,
 * restart from the same data directory, and its HTTP status. Output goes straight to a log file
 * (a file descriptor, not a pipe), so logs survive the harness and cost it nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS, nodeEnv } from '../../src/cli/runtime.ts';
import { raftkvArgs } from '../../test/support/raftkv-build.ts';
import type { Slot } from '../net/network.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The run's cluster secret: nodes listen on their namespace's address (not loopback), so they
 * need one. Given by environment, which `ps` does not show; every node of one run shares it.
 */
const RUN_SECRET = randomBytes(24).toString('hex');

/** Every node listens on the same ports, each on its own address. */
export const RESP_PORT = 6379;
export const HTTP_PORT = 16379;

export interface NodeStatus {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commit: number;
  applied: number;
  voters: string[];
  learners: string[];
}

export interface NodeSpec {
  id: string;
  slot: Slot;
  dataDir: string;
  logFile: string;
  /** `id=host:port:http_port,...`: all initial voters, or the members to join. */
  peers: string;
  join: boolean;
  extraArgs: readonly string[];
  /** libfaketime's offset file, when the clock nemesis runs (see nemesis/clock.ts). */
  clock?: { lib: string; file: string };
}

export type ExitListener = (node: ChaosNode, code: number | null, signal: NodeJS.Signals | null) => void;

export class ChaosNode {
  private proc?: ChildProcess;
  private expectExit = false;
  private exitWait?: Promise<void>;
  paused = false;
  starts = 0;

  constructor(
    readonly spec: NodeSpec,
    private readonly onUnexpectedExit: ExitListener,
  ) {}

  get id(): string {
    return this.spec.id;
  }

  get ip(): string {
    return this.spec.slot.ip;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The address as `--peers` wants it. */
  get peerAddress(): string {
    return `${this.id}=${this.ip}:${RESP_PORT}:${HTTP_PORT}`;
  }

  start(): void {
    if (this.proc) throw new Error(`${this.id} is already running`);
    const { spec } = this;
    const nodeArgs = [
      process.execPath,
      ...NODE_FLAGS,
      ...raftkvArgs(),
      'start',
      '--id',
      spec.id,
      '--host',
      spec.slot.ip,
      '--port',
      String(RESP_PORT),
      '--http-host',
      spec.slot.ip,
      '--http-port',
      String(HTTP_PORT),
      '--data-dir',
      spec.dataDir,
      '--peers',
      spec.peers,
      '--log-level',
      'info',
      // The workload's clients are in the root namespace (10.77.0.1), not on the node's
      // loopback, and use no password: protected mode would refuse them. The bridge reaches
      // nothing outside this machine. The node logs its one WARN line about it.
      '--protected-mode',
      'no',
      ...(spec.join ? ['--join'] : []),
      ...spec.extraArgs,
    ];
    const env: NodeJS.ProcessEnv = { ...nodeEnv(process.env), RAFTKV_LOG_PRETTY: '0', RAFTKV_CLUSTER_SECRET: RUN_SECRET };
    let argv = nodeArgs;
    if (spec.clock) {
      if (!existsSync(spec.clock.file)) writeFileSync(spec.clock.file, '+0\n');
      // `env` sets the preload for node only, not for `ip` itself. Monotonic clocks stay real,
      // so Raft's timers are untouched and only the wall clock (entry timestamps, TTLs) skews.
      argv = [
        'env',
        `LD_PRELOAD=${spec.clock.lib}`,
        `FAKETIME_TIMESTAMP_FILE=${spec.clock.file}`,
        'FAKETIME_DONT_FAKE_MONOTONIC=1',
        'FAKETIME_CACHE_DURATION=1',
        ...nodeArgs,
      ];
    }
    const fd = openSync(spec.logFile, 'a');
    writeFileSync(fd, `--- chaos: start #${this.starts + 1} of ${spec.id} at ${new Date().toISOString()}\n`);
    // `ip netns exec` execs the command, so the child's pid is node's own: signals reach it.
    const proc = spawn('ip', ['netns', 'exec', spec.slot.ns, ...argv], { cwd: REPO, env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.starts++;
    this.proc = proc;
    this.paused = false;
    this.expectExit = false;
    this.exitWait = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        if (this.proc === proc) this.proc = undefined;
        if (!this.expectExit) this.onUnexpectedExit(this, code, signal);
        resolve();
      });
    });
  }

  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.expectExit = true;
    p.kill('SIGKILL');
    await this.exitWait;
    this.paused = false;
  }

  /** Synchronous kill for tear-down from an 'exit' handler. */
  killNow(): void {
    const p = this.proc;
    if (!p?.pid) return;
    this.expectExit = true;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  pause(): void {
    if (!this.proc || this.paused) return;
    this.proc.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.proc || !this.paused) return;
    this.proc.kill('SIGCONT');
    this.paused = false;
  }

  url(path: string): string {
    return `http://${this.ip}:${HTTP_PORT}${path}`;
  }

  async status(timeoutMs = 1000): Promise<NodeStatus | undefined> {
    if (!this.proc || this.paused) return undefined;
    try {
      const r = await fetch(this.url('/v1/cluster'), { signal: AbortSignal.timeout(timeoutMs) });
      return r.ok ? ((await r.json()) as NodeStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  async waitHttp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.proc) throw new Error(`${this.id} exited while starting; see ${this.spec.logFile}`);
      try {
        if ((await fetch(this.url('/healthz'), { signal: AbortSignal.timeout(1000) })).ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.id} did not serve HTTP within ${timeoutMs} ms; see ${this.spec.logFile}`);
  }
}
