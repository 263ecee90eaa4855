/**
 * What every handler shares: the node, this node's subscribers, the RESP server (for CLIENT
 * LIST and INFO), and the two ways a keyspace command reaches the state machine, `read` and
 * `write`, which keep each connection's commands in order.
 *
 * Ordering. The server dispatches a connection's pipelined requests without waiting for
 * earlier replies, and writes are proposed at once, so the log holds them in request order.
 * Redis runs a connection's commands one after another, so two more rules apply here:
 *  - a read waits for the connection's writes still in flight (`conn.pendingWrite`), or it
 *    could answer from before them;
 *  - a write waits for the connection's reads still in flight, or it could commit before an
 *    earlier read looked, and that read would see it.
 * Reads evaluate in request order among themselves too (they share barriers, so this costs
 * nothing), which is what lets WATCH fill in versions that a later EXEC relies on.
 *
 * The common case, a plain read on the leader with nothing of its connection still pending,
 * takes the batched path (read-batches.ts): no promise or closure per read, one barrier per
 * event-loop turn, replies settled together. Everything else is chained with promises.
 */
import { randomBytes } from 'node:crypto';
import type { KvOp, KvResult, WatchedKey } from '../../kv/index.ts';
import type { RaftNode } from '../../node/raft-node.ts';
import { SingleGroupView } from '../cluster/single-group.ts';
import type { ClusterView, SlotOwner } from '../cluster/view.ts';
import { commandSlot } from '../commands/keys.ts';
import type { CommandSpec } from '../commands/spec.ts';
import type { HandlerName } from '../commands/table.ts';
import type { ClientConn } from '../conn.ts';
import type { DeferredReply } from '../deferred-reply.ts';
import { INTERNAL_ERROR, ROUTING_ERRORS, thrownReply } from '../errors.ts';
import { R, type Reply } from '../reply.ts';
import type { RespServer } from '../server.ts';
import { keyHashSlot } from '../slot.ts';
import { evalPlan, type KvPlan, readOnly, resultReply } from './plan.ts';
import { type ReadBatch, ReadBatches } from './read-batches.ts';
import { runtimeErrorReply } from './runtime-errors.ts';
import { Subscriptions } from './subscriptions.ts';

/** A command that does not touch the keyspace (or does so its own way). */
export type LocalHandler = (ctx: NodeContext, conn: ClientConn, argv: Buffer[], cmd: CommandSpec) => Reply | Promise<Reply>;

/** A keyspace command: validates its arguments and compiles to a plan, or answers an error. */
export type KvCompiler = (ctx: NodeContext, argv: Buffer[]) => KvPlan | Reply;

/**
 * A hot read command evaluated straight from its arguments, without compiling a plan: it must
 * answer exactly what its compiled plan would, and need no validation beyond the arity check.
 */
export type DirectRead = (ctx: NodeContext, argv: Buffer[], now: number) => Reply;

export type CommandImpl = { readonly kv: KvCompiler; readonly read?: DirectRead } | { readonly local: LocalHandler };

/** A keyspace command; `read`, for a plain read, serves it alone without building the plan. */
export const kv = (compile: KvCompiler, read?: DirectRead): CommandImpl => (read ? { kv: compile, read } : { kv: compile });
export const local = (run: LocalHandler): CommandImpl => ({ local: run });

interface ConnOrder {
  /** Settles once the connection's latest read (or ordered step) has been evaluated. */
  lastRead: Promise<void> | null;
  /** The batch of the connection's latest batched read, when that read came after `lastRead`. */
  lastBatch: ReadBatch<BatchedRead> | null;
}

/** What a batched read evaluates: a compiled read plan, or a direct read of its arguments. */
type BatchedRead = KvPlan | DirectRead;

const noop = (): void => {};

/** Writes a multi-group node proposes in every group it leads (writeNodeWide). */
const NODE_WIDE_WRITES = new Set(['flushall', 'flushdb']);
const ABORTED: KvResult = { type: 'aborted' };

/**
 * Bytes a request's arguments take in a log entry, with room for the per-field length
 * prefixes and op codes of the entry format.
 */
export function entryBytes(argv: readonly Buffer[]): number {
  let n = 0;
  for (const a of argv) n += a.length + 8;
  return n;
}

/**
 * Slack on top of max-value-bytes for keys and framing. The transport's frame limit is
 * max(max-value-bytes, 16 MiB) + 1 MiB, so an entry within this bound always fits one frame.
 */
const ENTRY_SLACK_BYTES = 64 * 1024;

/** What the contexts of one process's groups share (a multi-group node has one per group). */
export interface SharedContext {
  readonly subscriptions: Subscriptions;
  readonly startedAt: number;
  /** INFO run_id: random per process, as in Redis. */
  readonly runId: string;
}

export function newSharedContext(): SharedContext {
  return { subscriptions: new Subscriptions(), startedAt: Date.now(), runId: randomBytes(20).toString('hex') };
}

/** `read`, answered TRYAGAIN instead when the store no longer owns `slot` at evaluation. */
function ownedRead(read: BatchedRead, slot: number): DirectRead {
  return (ctx, argv, now) => {
    const kv = ctx.node.kv;
    if (!kv.ownsSlot(slot)) return ROUTING_ERRORS.slotChanging(slot);
    return typeof read === 'function' ? read(ctx, argv, now) : evalPlan(kv, read, now);
  };
}

export class NodeContext {
  readonly subscriptions: Subscriptions;
  readonly startedAt: number;
  /** INFO run_id: random per process, as in Redis. */
  readonly runId: string;
  /** Set by `NodeDispatcher.attach`. */
  server: RespServer | null = null;
  /**
   * On a multi-group node, the local groups DBSIZE and KEYS count over: every group this node
   * leads, as Redis Cluster counts every slot a node serves (sharded-dispatcher.ts). Unset on a
   * single-group node, whose one group is the node.
   */
  nodeWide: (() => readonly { readonly group: number; readonly node: RaftNode }[]) | undefined = undefined;
  /**
   * On a multi-group node's metadata-group dispatcher, who serves PUBLISH and CONFIG SET: group 0
   * (on every node) and the slot a MOVED names, one its leader serves so a client's slot cache
   * stays right (sharded-dispatcher.ts). Unset elsewhere: they go to slot 0's owner.
   */
  metadataOwner: (() => { readonly owner: SlotOwner<RaftNode>; readonly slot: number }) | undefined = undefined;
  private readonly orders = new WeakMap<ClientConn, ConnOrder>();
  private readonly batches: ReadBatches<BatchedRead>;
  /** A lookup's reply (GET and its kin), counted in keyspace_hits/misses as Redis counts it. */
  readonly lookup = (r: KvResult): Reply => {
    if (r.type === 'bulk') this.node.metrics.hits.value++;
    else if (r.type === 'nil') this.node.metrics.misses.value++;
    return resultReply(r);
  };

  constructor(
    readonly node: RaftNode,
    /** Every command's implementation, for EXEC to compile and run what MULTI queued. */
    readonly impls: Readonly<Record<HandlerName, CommandImpl>>,
    /**
     * Slot -> group routing and the shards CLUSTER commands show: today's single group unless
     * a caller hosting several groups passes its own (cluster/view.ts).
     */
    readonly view: ClusterView<RaftNode> = new SingleGroupView(node),
    shared: SharedContext = newSharedContext(),
  ) {
    this.subscriptions = shared.subscriptions;
    this.startedAt = shared.startedAt;
    this.runId = shared.runId;
    const kv = node.kv;
    this.batches = new ReadBatches<BatchedRead>({
      barrier: () => node.linearizableBarrier(),
      now: () => node.now(),
      evaluate: (read, argv, now) => (typeof read === 'function' ? read(this, argv, now) : evalPlan(kv, read, now)),
      failed: (err, slot, tls) => runtimeErrorReply(node, err, slot, tls),
      crashed: (err) => {
        this.server?.options.onError(err, null);
        return INTERNAL_ERROR;
      },
    });
  }

  get maxEntryBytes(): number {
    return this.node.cfg.maxValueBytes + ENTRY_SLACK_BYTES;
  }

  entryTooBig(bytes: number): Reply {
    return R.error(`ERR request of ${bytes} bytes exceeds the size of one log entry (max-value-bytes ${this.node.cfg.maxValueBytes})`);
  }

  /**
   * Runs `evaluate` against the local state machine once it is safe: after the connection's
   * pending writes, after a linearizable barrier (skipped for a READONLY connection on a
   * follower: a stale local read), and after the connection's earlier reads. A barrier that
   * fails answers the runtime's error reply instead.
   */
  read<T>(conn: ClientConn, slot: number, evaluate: (now: number) => T): T | Reply | Promise<T | Reply> {
    const stale = conn.readonly && !this.node.isLeader();
    return this.ordered(conn, true, !stale, evaluate, slot);
  }

  /** Runs `step` after the connection's earlier reads (UNWATCH, DISCARD, RESET touch WATCH state). */
  afterReads(conn: ClientConn, step: () => Reply): Reply | Promise<Reply> {
    return this.ordered(conn, false, false, step, 0);
  }

  private ordered<T>(conn: ClientConn, afterWrites: boolean, barrier: boolean, evaluate: (now: number) => T, slot: number): T | Reply | Promise<T | Reply> {
    const order = this.order(conn);
    const writes = afterWrites ? conn.pendingWrite : null;
    const prev = this.earlierReads(order);
    if (!barrier && writes === null && prev === null) return evaluate(this.node.now());
    const node = this.node;
    const done = (async (): Promise<T | Reply> => {
      try {
        if (writes !== null) await writes;
        if (barrier) await node.linearizableBarrier();
      } catch (err) {
        if (prev !== null) await prev;
        return runtimeErrorReply(node, err, slot, conn.tls);
      }
      if (prev !== null) await prev;
      return evaluate(node.now());
    })();
    const settled = done.then(noop, noop);
    order.lastRead = settled;
    order.lastBatch = null;
    void settled.then(() => {
      if (order.lastRead === settled) order.lastRead = null;
    });
    return done;
  }

  /** Settles once the connection's reads so far are evaluated; null when none is pending. */
  private earlierReads(order: ConnOrder): Promise<void> | null {
    if (order.lastRead !== null) return order.lastRead;
    const b = order.lastBatch;
    if (b === null) return null;
    if (b.finished) {
      order.lastBatch = null;
      return null;
    }
    return b.whenFinished();
  }

  /**
   * Proposes `ops` as one log entry once the connection's earlier reads are done, and records
   * it as the connection's pending write. Rejects with the runtime's errors. `watch` (EXEC) is
   * asked for the WATCHed versions at that moment; null means the transaction is already
   * doomed, and it resolves to a single `aborted` result without proposing.
   */
  write(conn: ClientConn, ops: KvOp[], watch?: () => WatchedKey[] | null): Promise<KvResult[]> {
    const prev = this.earlierReads(this.order(conn));
    const propose = (): Promise<KvResult[]> => {
      try {
        const watched = watch?.();
        if (watched === null) return Promise.resolve([ABORTED]);
        return this.node.propose(ops, watched);
      } catch (err) {
        return Promise.reject(err);
      }
    };
    const p = prev === null ? propose() : prev.then(propose);
    const before = conn.pendingWrite;
    // Settles (never rejects) once this write and the connection's earlier ones are done, and
    // then stops being the pending write unless a later write took over.
    const done = (): void => {
      if (conn.pendingWrite === all) conn.pendingWrite = null;
    };
    const all: Promise<void> = before === null ? p.then(done, done) : Promise.all([before, p.then(noop, noop)]).then(done);
    conn.pendingWrite = all;
    return p;
  }

  /** Runs one compiled command on its own: a read, or one log entry. */
  run(conn: ClientConn, plan: KvPlan, cmd: CommandSpec, argv: Buffer[]): Reply | Promise<Reply> | DeferredReply {
    if (readOnly(plan.ops)) return this.readAlone(conn, plan, cmd, argv);
    const bytes = entryBytes(argv);
    if (bytes > this.maxEntryBytes) return this.entryTooBig(bytes);
    if (this.nodeWide !== undefined && NODE_WIDE_WRITES.has(cmd.name)) {
      const groups = this.nodeWide();
      if (groups.length > 1) return this.writeNodeWide(conn, plan, groups);
    }
    // A deferred reply rather than a promise of one: a write's reply reaches the connection
    // one promise reaction sooner, and without the promise and closures the connection would
    // add around it.
    const reply = conn.defer();
    this.write(conn, plan.ops).then(
      (results) => this.settle(conn, reply, () => plan.reply(results)),
      (err: unknown) => this.settle(conn, reply, () => runtimeErrorReply(this.node, err, commandSlot(cmd, argv), conn.tls)),
    );
    return reply;
  }

  /**
   * FLUSHALL on a multi-group node: one entry in each group this node leads (Redis Cluster
   * flushes all of a node's slots). Not atomic across the groups, as no cross-group write is;
   * the reply is the first failure's, else the plan's.
   */
  private writeNodeWide(conn: ClientConn, plan: KvPlan, groups: ReturnType<NonNullable<NodeContext['nodeWide']>>): DeferredReply {
    const reply = conn.defer();
    let failed: { node: RaftNode; err: unknown } | undefined;
    const each = groups.map(({ node }) =>
      (node === this.node ? this.write(conn, plan.ops) : node.propose(plan.ops)).catch((err: unknown) => {
        failed ??= { node, err };
        return [] as KvResult[];
      }),
    );
    void Promise.all(each).then((results) =>
      this.settle(conn, reply, () => (failed ? runtimeErrorReply(failed.node, failed.err, 0, conn.tls) : plan.reply(results[0]))),
    );
    return reply;
  }

  /** Settles `reply` with what `make` returns, or with what the connection answers for a throw. */
  private settle(conn: ClientConn, reply: DeferredReply, make: () => Reply): void {
    let r: Reply;
    try {
      r = make();
    } catch (err) {
      r = thrownReply(err, (e) => this.server?.options.onError(e, conn));
    }
    reply.settle(r);
  }

  /** Serves a plain read alone: batched when nothing of its connection is pending, else chained. */
  readAlone(conn: ClientConn, read: BatchedRead, cmd: CommandSpec, argv: Buffer[]): Reply | Promise<Reply> | DeferredReply {
    // Several groups: the group judges its own keys when it reads them, as apply does for
    // writes, so a read routed by a stale view, or racing a split, is never served by a group
    // that gave the slot up (its state no longer shows those keys): TRYAGAIN instead.
    if (this.view.spansGroups && cmd.keys[0] > 0 && cmd.keys[0] < argv.length) read = ownedRead(read, keyHashSlot(argv[cmd.keys[0]]));
    const order = this.order(conn);
    if (conn.pendingWrite === null && order.lastRead === null && (!conn.readonly || this.node.isLeader())) {
      const reply = conn.defer();
      order.lastBatch = this.batches.add(reply, read, cmd, argv, conn.tls);
      return reply;
    }
    const kv = this.node.kv;
    return this.read(conn, commandSlot(cmd, argv), (now) => (typeof read === 'function' ? read(this, argv, now) : evalPlan(kv, read, now)));
  }

  private order(conn: ClientConn): ConnOrder {
    let o = this.orders.get(conn);
    if (o === undefined) {
      o = { lastRead: null, lastBatch: null };
      this.orders.set(conn, o);
    }
    return o;
  }
}
