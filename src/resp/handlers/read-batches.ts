/**
 * Linearizable reads in batches, without a promise per read. Every read that arrives in one
 * event-loop turn, from any connection, joins the open batch; at the end of that turn's I/O
 * (setImmediate) the batch asks the node for ONE barrier, which therefore starts after each of
 * its reads arrived. Once the barrier is confirmed the batch's reads are evaluated in arrival
 * order in one synchronous step and their deferred replies settled, so each connection then
 * writes all of its replies at once. In lease mode, a lease that holds when the batch closes
 * stands in for the barrier: the batch is answered then, with no Ready cycle.
 *
 * Batches finish in the order they were opened, even if a later barrier is confirmed first,
 * so a connection's reads that landed in two batches are still answered in order.
 */
import { commandSlot } from '../commands/keys.ts';
import type { CommandSpec } from '../commands/spec.ts';
import type { DeferredReply } from '../deferred-reply.ts';
import type { Reply } from '../reply.ts';

/** What the batches need from the node context; `R` is a compiled read (a plan). */
export interface BatchHost<R> {
  /** Resolves once the node may serve a linearizable read (RaftNode.linearizableBarrier). */
  barrier(): Promise<void>;
  /**
   * Whether a read may be served now with no barrier (RaftNode.leaseRead: a lease that holds,
   * the commit index applied). Asked when the batch closes, after all of its reads arrived.
   */
  leaseRead(): boolean;
  /** The state machine's clock for evaluating reads. */
  now(): number;
  /** The read's reply from the local state machine at `now`. */
  evaluate(read: R, argv: Buffer[], now: number): Reply;
  /** The reply for a read whose barrier failed with `err` (it may rethrow a bug). */
  failed(err: unknown, slot: number, tls: boolean): Reply;
  /** The reply for a read that threw: a bug, reported and answered as an internal error. */
  crashed(err: unknown): Reply;
}

const State = { Open: 0, Waiting: 1, Confirmed: 2, Failed: 3, Finished: 4 } as const;
type State = (typeof State)[keyof typeof State];

/** The reads sharing one barrier, in arrival order (parallel arrays: no record per read). */
export class ReadBatch<R> {
  state: State = State.Open;
  error: unknown = null;
  readonly replies: DeferredReply[] = [];
  readonly reads: R[] = [];
  readonly cmds: CommandSpec[] = [];
  readonly argvs: Buffer[][] = [];
  /** Whether each read's client is on TLS (a MOVED names the TLS port then). */
  readonly tls: boolean[] = [];
  private done: Promise<void> | null = null;
  private resolveDone: (() => void) | null = null;

  get finished(): boolean {
    return this.state === State.Finished;
  }

  /** Settles once every read of the batch has been answered; made only when someone waits. */
  whenFinished(): Promise<void> {
    if (this.state === State.Finished) return Promise.resolve();
    this.done ??= new Promise<void>((resolve) => {
      this.resolveDone = resolve;
    });
    return this.done;
  }

  /** @internal */
  finish(): void {
    this.state = State.Finished;
    this.resolveDone?.();
  }
}

export class ReadBatches<R> {
  private open: ReadBatch<R> | null = null;
  /** Batches not finished yet, oldest first. */
  private readonly unfinished: ReadBatch<R>[] = [];
  private readonly issueOpen = (): void => {
    const b = this.open;
    if (b === null) return;
    this.open = null;
    b.state = State.Waiting;
    // Lease mode: the lease answers for every read of the batch at once, without a Ready cycle,
    // and the replies still leave together at the end of the turn.
    if (this.host.leaseRead()) {
      this.settle(b, State.Confirmed, null);
      return;
    }
    let barrier: Promise<void>;
    try {
      barrier = this.host.barrier();
    } catch (err) {
      barrier = Promise.reject(err);
    }
    barrier.then(
      () => this.settle(b, State.Confirmed, null),
      (err: unknown) => this.settle(b, State.Failed, err),
    );
  };

  constructor(private readonly host: BatchHost<R>) {}

  /** Queues a read to answer into `reply` after the next barrier; returns its batch. */
  add(reply: DeferredReply, read: R, cmd: CommandSpec, argv: Buffer[], tls = false): ReadBatch<R> {
    let b = this.open;
    if (b === null) {
      b = new ReadBatch<R>();
      this.open = b;
      this.unfinished.push(b);
      setImmediate(this.issueOpen);
    }
    b.replies.push(reply);
    b.reads.push(read);
    b.cmds.push(cmd);
    b.argvs.push(argv);
    b.tls.push(tls);
    return b;
  }

  private settle(b: ReadBatch<R>, state: State, error: unknown): void {
    b.state = state;
    b.error = error;
    const q = this.unfinished;
    while (q.length > 0 && (q[0].state === State.Confirmed || q[0].state === State.Failed)) {
      const head = q.shift() as ReadBatch<R>;
      if (head.state === State.Confirmed) this.evaluate(head);
      else this.fail(head);
      head.finish();
    }
  }

  private evaluate(b: ReadBatch<R>): void {
    const host = this.host;
    const now = host.now();
    const { replies, reads, argvs } = b;
    for (let i = 0; i < replies.length; i++) {
      let reply: Reply;
      try {
        reply = host.evaluate(reads[i], argvs[i], now);
      } catch (err) {
        reply = host.crashed(err);
      }
      replies[i].settle(reply);
    }
  }

  private fail(b: ReadBatch<R>): void {
    const { replies, cmds, argvs, tls } = b;
    for (let i = 0; i < replies.length; i++) {
      let reply: Reply;
      try {
        reply = this.host.failed(b.error, commandSlot(cmds[i], argvs[i]), tls[i]);
      } catch (err) {
        reply = this.host.crashed(err);
      }
      replies[i].settle(reply);
    }
  }
}
