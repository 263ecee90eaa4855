/**
 * The RESP server's periodic pass over its connections, as Redis's clientsCron: it sums what
 * every client holds (INFO mem_clients_normal), keeps the recent peaks of input and output
 * buffers (INFO client_recent_max_input_buffer / _output_buffer, over the last 8 seconds as
 * Redis), closes clients idle longer than `timeout`, re-checks soft output limits that only
 * time can trip, and enforces maxmemory-clients by closing the biggest clients first.
 *
 * The per-connection limits (query buffer, output buffer) act at once on the connection's own
 * path; this pass is for what needs every connection at once, so it runs off the hot path,
 * every 100 ms.
 */
import type { ClientConn, ClientMemory } from './conn.ts';
import { ClientLimitError } from './errors.ts';
import type { ResolvedOptions } from './server.ts';

const TICK_MS = 100;
/** Redis's CLIENTS_PEAK_MEM_USAGE_SLOTS: the "recent" peaks cover this many seconds. */
const PEAK_SLOTS = 8;

/** What the pass needs of a connection. */
export interface CronConnection {
  readonly conn: ClientConn;
  memory(): ClientMemory;
  /** Owed a reply (a client waiting for a write to commit is not idle). */
  readonly waiting: boolean;
  /** client-output-buffer-limit; true if it closed the connection. */
  checkOutputLimits(): boolean;
  close(): void;
}

export class ClientCron {
  /** Sum of every client's tot-mem at the last pass. */
  totalMemory = 0;
  /** Clients closed by maxmemory-clients (INFO evicted_clients). */
  evictedClients = 0;
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;
  private readonly inputPeaks = new Array<number>(PEAK_SLOTS).fill(0);
  private readonly outputPeaks = new Array<number>(PEAK_SLOTS).fill(0);
  private lastSecond = 0;

  constructor(
    private readonly options: Pick<ResolvedOptions, 'now' | 'timeout' | 'maxMemoryClients' | 'onError'>,
    private readonly connections: ReadonlySet<CronConnection>,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The largest qbuf + argv-mem of any client in the last 8 seconds. */
  get recentMaxInput(): number {
    return Math.max(...this.inputPeaks);
  }

  /** The largest omem of any client in the last 8 seconds. */
  get recentMaxOutput(): number {
    return Math.max(...this.outputPeaks);
  }

  /** Brings the total and the peaks up to date without enforcing anything (INFO). */
  sample(): void {
    this.pass(false);
  }

  /** One pass (public for tests). */
  tick(): void {
    this.pass(true);
  }

  private pass(enforce: boolean): void {
    const o = this.options;
    const now = o.now();
    const second = Math.floor(now / 1000);
    const slot = second % PEAK_SLOTS;
    if (second !== this.lastSecond) {
      // Slots of the seconds skipped (no pass ran) are stale too.
      for (let s = Math.max(this.lastSecond + 1, second - PEAK_SLOTS + 1); s <= second; s++) {
        this.inputPeaks[s % PEAK_SLOTS] = 0;
        this.outputPeaks[s % PEAK_SLOTS] = 0;
      }
      this.lastSecond = second;
    }
    const idleCheck = enforce && o.timeout > 0 && this.ticks++ % (1000 / TICK_MS) === 0;
    const idleMs = o.timeout * 1000;
    let total = 0;
    const sized: [CronConnection, number][] = [];
    for (const c of this.connections) {
      if (enforce && c.checkOutputLimits()) continue;
      if (idleCheck && !c.conn.subscribed && !c.waiting && now - c.conn.lastInteraction > idleMs) {
        c.close();
        continue;
      }
      const m = c.memory();
      total += m.total;
      if (m.qbuf + m.argvMem > this.inputPeaks[slot]) this.inputPeaks[slot] = m.qbuf + m.argvMem;
      if (m.omem > this.outputPeaks[slot]) this.outputPeaks[slot] = m.omem;
      if (enforce && o.maxMemoryClients > 0 && !c.conn.noEvict && m.total > 0) sized.push([c, m.total]);
    }
    this.totalMemory = total;
    if (enforce && o.maxMemoryClients > 0 && total > o.maxMemoryClients) this.evict(sized, total);
  }

  /** maxmemory-clients: closes the biggest clients (not CLIENT NO-EVICT ones) until under it. */
  private evict(sized: [CronConnection, number][], total: number): void {
    sized.sort((a, b) => b[1] - a[1]);
    let left = total;
    for (const [c, bytes] of sized) {
      if (left <= this.options.maxMemoryClients || bytes === 0) break;
      this.options.onError(new ClientLimitError(c.conn.id, `holds ${bytes} bytes; clients hold ${left}, over maxmemory-clients`), c.conn);
      c.close();
      this.evictedClients++;
      left -= bytes;
    }
    this.totalMemory = left;
  }
}
