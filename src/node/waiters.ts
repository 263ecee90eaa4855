/**
 * Callers waiting on the log: a proposal waits for its index to be applied, a linearizable
 * read waits for a ReadState and then for apply to reach that state's index.
 *
 * A proposal's fate is decided only by what is applied at its index: the same term means our
 * entry committed (success); another term means a different leader's entry won (definite
 * failure). Losing leadership alone decides nothing, because the entry may still commit under
 * the next leader; such callers wait until apply decides or their deadline passes, and a
 * deadline is reported as "outcome unknown", never as failure.
 */
import { randomBytes } from 'node:crypto';
import type { ReadState } from '../raft/types.ts';

export class ProposalFailedError extends Error {
  override name = 'ProposalFailedError';
}

/** The outcome is unknown: the entry may or may not have been applied. */
export class OutcomeUnknownError extends Error {
  override name = 'OutcomeUnknownError';
}

export class ReadTimeoutError extends Error {
  override name = 'ReadTimeoutError';
}

export interface ProposalWaiter {
  term: number;
  deadline: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class ProposalWaiters {
  private byIndex = new Map<number, ProposalWaiter>();
  /** Proposals that ended in an error: failed, replaced, or outcome unknown (the failed-proposals metric). */
  failed = 0;

  get size(): number {
    return this.byIndex.size;
  }

  wait<T>(index: number, term: number, deadline: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.byIndex.set(index, { term, deadline, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** Like `wait`, for a caller whose promise was handed out before its index was known. */
  register(index: number, w: ProposalWaiter): void {
    this.byIndex.set(index, w);
  }

  /** Called for every applied entry, in log order. */
  applied(index: number, term: number, result: unknown): void {
    const w = this.byIndex.get(index);
    if (!w) return;
    this.byIndex.delete(index);
    if (w.term === term) w.resolve(result);
    else this.fail(w, new ProposalFailedError(`entry ${index} was replaced by another leader's entry (term ${term})`));
  }

  /** The entry at `index` was applied as a no-op because it could not be used. */
  unusable(index: number, why: string): void {
    const w = this.byIndex.get(index);
    if (!w) return;
    this.byIndex.delete(index);
    this.fail(w, new ProposalFailedError(why));
  }

  /** A snapshot jumped apply past these indexes, so we cannot tell what happened to them. */
  skippedTo(index: number): void {
    for (const [i, w] of this.byIndex) {
      if (i <= index) {
        this.byIndex.delete(i);
        this.fail(w, new OutcomeUnknownError(`entry ${i} was covered by a snapshot; its outcome is unknown`));
      }
    }
  }

  expire(now: number): void {
    for (const [i, w] of this.byIndex) {
      if (w.deadline <= now) {
        this.byIndex.delete(i);
        this.fail(w, new OutcomeUnknownError('timed out waiting for the write to commit; its outcome is unknown'));
      }
    }
  }

  failAll(err: Error): void {
    for (const w of this.byIndex.values()) this.fail(w, err);
    this.byIndex.clear();
  }

  private fail(w: ProposalWaiter, err: Error): void {
    this.failed++;
    w.reject(err);
  }
}

interface ReadBatch {
  id: bigint;
  deadline: number;
  /** Set once the ReadState for this batch arrived. */
  index: number | undefined;
  callers: { resolve: () => void; reject: (e: Error) => void }[];
}

/**
 * Reads are grouped into ReadIndex requests, and the core shares one confirmation round among
 * all requests waiting at that time. While no request is in flight, a read is asked for at the
 * end of its turn's microtasks, with every read of that turn. While one is in flight, reads are
 * held and asked for together once its answer is in, a turn later (`defer`), so that the reads
 * of that turn join too: one request and one round for every read that came in meanwhile,
 * instead of one request per socket read and a round that starts the moment the last ended.
 * A round costs the leader a frame to each follower and each follower a wake-up, a step and an
 * answer (docs/performance.md, "Reads against the Node.js ceiling"); how many reads share it is
 * what sets ReadIndex's cost per read.
 *
 * Safety does not change: a held read is asked for after it arrived, so its index is a commit
 * index at least as new as the one when it arrived, and its round starts later still. A request
 * whose answer never comes (a lost forwarded read, a leader change) holds later reads for one
 * to two ticks at most: `expire` asks for a held batch that a whole tick has passed over.
 */
export class ReadWaiters {
  private nextId: bigint;
  private open: ReadBatch | undefined;
  /** Reads that came while a request was in flight; `aged` once a tick has passed over them. */
  private held: (ReadBatch & { aged: boolean }) | undefined;
  private releaseArmed = false;
  private pending = new Map<bigint, ReadBatch>();
  private ready: ReadBatch[] = [];

  /**
   * `firstId`: where this process's contexts start. Random, because the leader may answer a
   * ReadIndex of a previous run of this node (it queues requests until it can confirm them):
   * counting from 1 again after a restart, a new read could take that stale answer, whose index
   * may be older than the new read (found by the simulator).
   * `defer`: runs a function after this turn's other input (the Ready loop's scheduler).
   * `issue(ctx, narrow)`: `narrow` for held reads, which came while a request was in flight: the
   * core's round for them may ask only a quorum of followers (RawNode.readIndex).
   */
  constructor(
    private readonly issue: (ctx: Uint8Array, narrow: boolean) => void,
    firstId: bigint = randomBytes(8).readBigUInt64BE(0),
    private readonly defer: (fn: () => void) => void = setImmediate,
  ) {
    this.nextId = firstId;
  }

  get size(): number {
    let n = this.ready.length;
    for (const b of this.pending.values()) n += b.callers.length;
    return n + (this.open?.callers.length ?? 0) + (this.held?.callers.length ?? 0);
  }

  /** Resolves once the caller may read the state machine linearizably. */
  wait(deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batchFor(deadline).callers.push({ resolve, reject });
    });
  }

  private batchFor(deadline: number): ReadBatch {
    if (this.open) return this.open;
    // Held reads wait for the request in flight, or for the deferred run that asks for them.
    if (this.held) return this.held;
    if (this.pending.size > 0) {
      this.held = { ...this.newBatch(deadline), aged: false };
      return this.held;
    }
    const batch = this.newBatch(deadline);
    this.open = batch;
    queueMicrotask(() => this.flush(batch));
    return batch;
  }

  private newBatch(deadline: number): ReadBatch {
    const batch: ReadBatch = { id: this.nextId, deadline, index: undefined, callers: [] };
    this.nextId = BigInt.asUintN(64, this.nextId + 1n);
    return batch;
  }

  private flush(batch: ReadBatch, narrow = false): void {
    if (this.open === batch) this.open = undefined;
    if (this.held === batch) this.held = undefined;
    this.pending.set(batch.id, batch);
    this.issue(encodeCtx(batch.id), narrow);
  }

  /** Asks for the held reads (if still held) once nothing is in flight, a turn from now. */
  private releaseHeld(): void {
    if (this.held === undefined || this.pending.size > 0 || this.releaseArmed) return;
    this.releaseArmed = true;
    this.defer(() => {
      this.releaseArmed = false;
      if (this.held !== undefined && this.pending.size === 0) this.flush(this.held, true);
    });
  }

  /**
   * Asks again for every batch still waiting for its read index, and for the held reads. The
   * core forgets pending ReadIndex requests when leadership changes (a new leader never heard of
   * them), so without this a read in flight during a failover would wait out its whole deadline.
   * A late answer from the old leader is still good (it was confirmed by a quorum when given):
   * the first of the two answers serves the batch.
   */
  resend(): void {
    for (const b of this.pending.values()) this.issue(encodeCtx(b.id), false);
    if (this.held !== undefined) this.flush(this.held);
  }

  onReadState(rs: ReadState): void {
    const id = decodeCtx(rs.context);
    if (id === undefined) return;
    const batch = this.pending.get(id);
    if (!batch) return;
    this.pending.delete(id);
    batch.index = rs.index;
    this.ready.push(batch);
    this.releaseHeld();
  }

  /** Release every batch whose read index has been applied. */
  serve(applied: number): void {
    if (this.ready.length === 0) return;
    const keep: ReadBatch[] = [];
    for (const b of this.ready) {
      if ((b.index ?? Number.POSITIVE_INFINITY) <= applied) for (const c of b.callers) c.resolve();
      else keep.push(b);
    }
    this.ready = keep;
  }

  /** Called every tick: ends what passed its deadline, and stops holding reads behind a stuck request. */
  expire(now: number): void {
    for (const [id, b] of this.pending) {
      if (b.deadline <= now) {
        this.pending.delete(id);
        for (const c of b.callers) c.reject(new ReadTimeoutError('could not confirm leadership with a quorum in time'));
      }
    }
    this.ready = this.ready.filter((b) => {
      if (b.deadline > now) return true;
      for (const c of b.callers) c.reject(new ReadTimeoutError('state machine did not catch up in time'));
      return false;
    });
    const held = this.held;
    if (held === undefined) return;
    if (held.deadline <= now) {
      this.held = undefined;
      for (const c of held.callers) c.reject(new ReadTimeoutError('could not confirm leadership with a quorum in time'));
    } else if (held.aged || this.pending.size === 0) this.flush(held);
    else held.aged = true;
  }

  failAll(err: Error): void {
    const held = this.held ? [this.held] : [];
    for (const b of [...this.pending.values(), ...this.ready, ...held]) for (const c of b.callers) c.reject(err);
    this.pending.clear();
    this.ready = [];
    this.held = undefined;
  }
}

function encodeCtx(id: bigint): Uint8Array {
  const b = new Uint8Array(9);
  b[0] = 0x72; // 'r': marks runtime read contexts
  new DataView(b.buffer).setBigUint64(1, id);
  return b;
}

function decodeCtx(b: Uint8Array): bigint | undefined {
  if (b.length !== 9 || b[0] !== 0x72) return undefined;
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(1);
}
