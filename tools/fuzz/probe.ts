/**
 * The well-behaved client: on its own connection, every `everyMs` it writes a fresh value to
 * a key of its own and reads it back in one MULTI (so no fuzzed FLUSHALL can land between
 * them), and expects the exact reply bytes within `stallMs`. A wrong reply, a closed
 * connection or a late one is a stall; the probe then reconnects and goes on.
 */
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { encodeCommand } from './resp.ts';

export interface StallEvent {
  at: string;
  elapsedMs: number;
  why: string;
  /** The machine's 1-minute load average: a stall on a saturated machine may be the machine's. */
  loadavg: number;
  /** Longest gap between the probe's own polls: large means the probe itself was starved. */
  probeMaxGapMs: number;
}

export class Probe {
  readonly stalls: StallEvent[] = [];
  checks = 0;
  private sock: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private running = false;
  /** Longest gap between two polls of the current check. */
  private maxGap = 0;
  /** A check is under way. */
  busy = false;

  constructor(
    private readonly port: number,
    private readonly password: string,
    private readonly stallMs: number,
    private readonly everyMs: number,
    private readonly onStall: (e: StallEvent) => void,
  ) {}

  start(): void {
    this.running = true;
    this.timer = setInterval(() => void this.tick(), this.everyMs);
  }

  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    this.sock?.destroy();
  }

  /** One check now (also used once before fuzzing starts, to know the node works at all). */
  async check(): Promise<string | null> {
    const started = Date.now();
    this.maxGap = 0;
    const key = `fuzz-probe:${process.pid}`;
    const value = `v${++this.seq}`;
    const expected = Buffer.from(`+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$${value.length}\r\n${value}\r\n`);
    try {
      const sock = await this.connection();
      this.buf = Buffer.alloc(0);
      sock.write(Buffer.concat([encodeCommand(['MULTI']), encodeCommand(['SET', key, value]), encodeCommand(['GET', key]), encodeCommand(['EXEC'])]));
      const got = await this.read(expected.length, started + this.stallMs);
      if (got === null) return `no complete reply within ${this.stallMs} ms (got ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))})`;
      if (!got.equals(expected)) return `wrong reply ${JSON.stringify(got.toString('latin1').slice(0, 200))}`;
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  private async tick(): Promise<void> {
    if (!this.running || this.busy) return;
    this.busy = true;
    const started = Date.now();
    const why = await this.check();
    this.checks++;
    const gap = this.maxGap;
    if (why !== null && this.running) {
      const e = { at: new Date(started).toISOString(), elapsedMs: Date.now() - started, why, loadavg: loadavg()[0], probeMaxGapMs: gap };
      this.stalls.push(e);
      this.onStall(e);
      this.sock?.destroy();
      this.sock = undefined;
    }
    this.busy = false;
  }

  private async connection(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return this.sock;
    const sock = connect({ port: this.port, host: '127.0.0.1', noDelay: true });
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('close', () => reject(new Error('probe connection refused or closed')));
    });
    this.sock = sock;
    if (this.password) {
      this.buf = Buffer.alloc(0);
      sock.write(encodeCommand(['AUTH', this.password]));
      const got = await this.read(5, Date.now() + this.stallMs);
      if (got?.toString() !== '+OK\r\n') throw new Error(`AUTH answered ${JSON.stringify(this.buf.toString('latin1'))}`);
    }
    return sock;
  }

  /** Waits until `n` bytes arrived (or the deadline, or the connection closing). */
  private async read(n: number, deadline: number): Promise<Buffer | null> {
    let last = Date.now();
    while (this.buf.length < n) {
      if (Date.now() >= deadline || !this.sock || this.sock.destroyed) return null;
      await new Promise((r) => setTimeout(r, 2));
      this.maxGap = Math.max(this.maxGap, Date.now() - last);
      last = Date.now();
    }
    // Bytes past the expected reply are wrong too: the reply must be exactly this.
    await new Promise((r) => setImmediate(r));
    return this.buf;
  }
}
