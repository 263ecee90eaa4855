/**
 * Drives a workload: `concurrency` clients in closed loops at a total target rate, plus the
 * stale-read probes that the pause nemesis fires and the final reads after recovery.
 */
import { elapsed, sleep } from '../clock.ts';
import type { ChaosNode } from '../cluster/node-proc.ts';
import { OpStatus } from '../history/ops.ts';
import type { Recorder } from '../history/recorder.ts';
import type { Random } from '../random.ts';
import { Client, type ClientOptions, type Directory } from './client.ts';
import type { Workload } from './workload.ts';

export interface LoadOptions extends ClientOptions {
  concurrency: number;
  /** Target operations per second over all clients. */
  rate: number;
}

export class LoadRunner {
  private running = false;
  private loops: Promise<void>[] = [];
  private nextWorker: number;
  /** The slot table every client fills from -MOVED and routes by (client.ts). */
  private readonly slots = new Map<number, ChaosNode>();

  constructor(
    private readonly workload: Workload,
    private readonly dir: Directory,
    private readonly rec: Recorder,
    private readonly rnd: Random,
    private readonly opts: LoadOptions,
  ) {
    this.nextWorker = opts.concurrency;
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.loop(i, this.rnd.fork()));
  }

  private async loop(worker: number, rnd: Random): Promise<void> {
    const client = new Client(worker, this.dir, this.rec, rnd, this.opts, this.slots);
    const meanGap = (1000 * this.opts.concurrency) / this.opts.rate;
    try {
      while (this.running) {
        const op = await client.invoke(this.workload.next(rnd, elapsed(), worker));
        this.workload.observe?.(worker, op);
        // After a refusal, back off a little instead of hammering a node that cannot serve.
        const gap = op.status === OpStatus.Ok ? -Math.log(1 - rnd.next()) * meanGap - (op.return - op.call) : rnd.int(20, 100);
        if (gap > 0) await sleep(gap);
      }
    } finally {
      client.close();
    }
  }

  /** Stops issuing operations and waits for those in flight (each is bounded by the timeout). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /**
   * Opens connections to `node` now (while it is paused, the kernel still accepts them) and
   * returns a function that sends the probe reads on them, to be called right after SIGCONT.
   */
  async prepareProbe(node: ChaosNode): Promise<() => Promise<void>> {
    const clients = this.workload.probes().map(() => new Client(this.nextWorker, this.dir, this.rec, this.rnd.fork(), this.opts));
    await Promise.all(
      clients.map(async (c) => {
        c.pin(node);
        await c.connect(node).catch(() => undefined);
      }),
    );
    return async () => {
      await Promise.all(this.workload.probes().map((req, i) => clients[i].invoke(req)));
      for (const c of clients) c.close();
    };
  }

  /** Sends every final read, each retried until answered; false if some never were. */
  async final(timeoutMs: number): Promise<boolean> {
    const queue = this.workload.finals();
    const deadline = Date.now() + timeoutMs;
    let complete = true;
    const worker = async (w: number) => {
      const client = new Client(w, this.dir, this.rec, this.rnd.fork(), this.opts, this.slots);
      for (let req = queue.shift(); req; req = queue.shift()) {
        for (;;) {
          const op = await client.invoke(req);
          if (op.status === OpStatus.Ok) break;
          if (Date.now() > deadline) {
            complete = false;
            break;
          }
          await sleep(50);
        }
      }
      client.close();
    };
    const first = this.nextWorker + 1;
    await Promise.all(Array.from({ length: Math.min(4, this.opts.concurrency) }, (_, i) => worker(first + i)));
    return complete;
  }
}
