/**
 * Group commit. Writes issued in one synchronous stretch, and all writes that arrive while a batch
 * is being fsynced, go to LevelDB as one batch; each caller's promise settles when the batch
 * holding its writes is durable. One queue serves every Raft group of a node (engine.ts), so a
 * turn in which many groups save costs one fsync, not one per group; each write may name its
 * owner (a group's storage), which hears about every batch that carried its writes.
 *
 * Only one batch is in flight at a time. That is also what keeps writes in order: classic-level
 * runs each batch on the libuv thread pool, so two concurrent batches could land in either order.
 */

export type WriteOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Who wrote into a batch: told its duration once it is written (a group's fsync histogram). */
export interface WriteOwner {
  written(ms: number): void;
}

interface Group {
  ops: WriteOp[];
  /** The owners of the writes in the batch, if any were named. */
  owners?: Set<WriteOwner>;
  /** Builds the ops when the batch is written, so large values are not all encoded up front. */
  build?: () => WriteOp[];
  waiters: Waiter[];
  /** Fsync the batch: false only if every write in it said it may skip the fsync. */
  sync: boolean;
  /** A sealed group takes no more writes; the next write starts a new group. */
  sealed: boolean;
}

export interface WriteQueueSink {
  /** Writes one atomic batch; resolves when it is durable if `sync`, else when it is written. */
  write(ops: WriteOp[], sync: boolean): Promise<void>;
  /** Called after each batch with its duration (the fsync latency) and size. */
  written(ms: number, ops: number): void;
  /** Turns a write error into the error every pending and later write rejects with. */
  failed(err: unknown): Error;
}

export class WriteQueue {
  private readonly groups: Group[] = [];
  private running = false;
  private scheduled = false;
  private failure: Error | undefined;

  constructor(private readonly sink: WriteQueueSink) {}

  /**
   * Adds ops to the batch being gathered; resolves when that batch is durable. With
   * `sync` false the caller only needs order, not durability, so the batch may skip the fsync
   * unless another write in it needs one.
   */
  push(ops: WriteOp[], sync = true, owner?: WriteOwner): Promise<void> {
    let g = this.groups.at(-1);
    if (!g || g.sealed) {
      g = { ops: [], waiters: [], sync: false, sealed: false };
      this.groups.push(g);
    }
    if (sync) g.sync = true;
    if (owner) {
      g.owners ??= new Set();
      g.owners.add(owner);
    }
    return this.enqueue(g, ops);
  }

  /**
   * Adds a batch of its own, e.g. one large snapshot chunk, so that it delays the small writes
   * queued around it by no more than itself. `build` runs when the batch is about to be written.
   */
  pushAlone(build: () => WriteOp[], owner?: WriteOwner): Promise<void> {
    const g: Group = { ops: [], build, waiters: [], sync: true, sealed: true, ...(owner ? { owners: new Set([owner]) } : {}) };
    this.groups.push(g);
    return this.enqueue(g, []);
  }

  /** Resolves once everything queued so far is durable. */
  drain(): Promise<void> {
    return this.push([]);
  }

  /** The error that stopped the queue, if a batch failed. */
  failedWith(): Error | undefined {
    return this.failure;
  }

  private enqueue(g: Group, ops: WriteOp[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    for (const op of ops) g.ops.push(op);
    const done = new Promise<void>((resolve, reject) => g.waiters.push({ resolve, reject }));
    if (!this.running && !this.scheduled) {
      this.scheduled = true;
      // A microtask runs once the current synchronous stretch is done, so the writes it issues
      // join one batch; writes from later callbacks join the next batch, gathered while this
      // one is on disk. Waiting a whole loop turn instead (setImmediate) adds that turn's
      // socket work to every write's latency, and the runtime already issues one save per
      // Ready.
      queueMicrotask(() => void this.run());
    }
    return done;
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    while (this.groups.length > 0) {
      const g = this.groups.shift()!;
      try {
        const ops = g.build ? g.build() : g.ops;
        if (ops.length > 0) {
          const t0 = performance.now();
          await this.sink.write(ops, g.sync);
          const ms = performance.now() - t0;
          this.sink.written(ms, ops.length);
          if (g.owners) for (const o of g.owners) o.written(ms);
        }
      } catch (err) {
        this.fail(this.sink.failed(err), g);
        break;
      }
      for (const w of g.waiters) w.resolve();
    }
    this.running = false;
  }

  private fail(err: Error, current: Group): void {
    this.failure = err;
    const all = [current, ...this.groups.splice(0)];
    for (const g of all) for (const w of g.waiters) w.reject(err);
  }
}
