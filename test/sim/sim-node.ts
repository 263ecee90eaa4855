/**
 * One simulated server, built from the runtime's own parts: the production Ready loop
 * (src/node/ready-loop.ts), the applier and its entry clock (src/node/applier.ts), the KV state
 * machine (src/kv KvStore), the proposal batch and the write and read waiters
 * (src/node/proposal-batch.ts, waiters.ts). What the runtime gets from LevelDB, timers and
 * sockets comes from the simulation instead: storage is a double with LevelStorage's contract
 * (sim-storage.ts), the loop's deferred runs and the node's wall clock come from the event queue
 * and the simulated clock.
 *
 * A crash ends the incarnation: the core, the state machine, the waiters and every queued write
 * are thrown away, and callbacks of the old loop still running do nothing. A restart builds all
 * of it again from the disk alone, as RaftNode.open does: the state machine from the snapshot,
 * the rest replayed from the log by the core.
 */

import type { EvictionPolicy } from '../../src/kv/index.ts';
import { encodeEntry, type KvEntry, type KvOp, type KvResult, KvStore } from '../../src/kv/index.ts';
import { Applier } from '../../src/node/applier.ts';
import { LeaderDuties } from '../../src/node/leader-duties.ts';
import { LeaseClock, leaseDurationMs } from '../../src/node/lease.ts';
import { ProposalBatch } from '../../src/node/proposal-batch.ts';
import { type ReadyHost, ReadyLoop } from '../../src/node/ready-loop.ts';
import { ProposalWaiters, ReadWaiters } from '../../src/node/waiters.ts';
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  type Message,
  NONE,
  type NodeId,
  type RaftConfig,
  RawNode,
  type Ready,
  Role,
  type Snapshot,
} from '../../src/raft/index.ts';
import type { SaveRequest } from '../../src/storage/memory-log.ts';
import { chainDigest, GENESIS_DIGEST } from './digest.ts';
import { ELECTION_TICK, TICK } from './schedule.ts';
import { type Disk, SimStorage } from './sim-storage.ts';

export type NodeSettings = Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'random' | 'logger'>;

/** How an armed crash cuts the next Ready short. */
export const CrashPoint = {
  /**
   * The disk catches up at once (a fast disk, a slow transport): every queued write up to this
   * Ready's becomes durable, and the node dies before any of this Ready's messages leave.
   */
  AfterPersist: 'after-persist',
  /** The node dies once the Ready's save is issued (early messages sent, entries applied), with it and every earlier save still queued. */
  BeforePersist: 'before-persist',
} as const;
export type CrashPoint = (typeof CrashPoint)[keyof typeof CrashPoint];

/** A write refused before it was proposed: it can never take effect. */
export class RefusedError extends Error {
  override name = 'RefusedError';
  constructor(
    message: string,
    readonly leader: NodeId,
  ) {
    super(message);
  }
}

/** What the simulation provides to, and learns from, one node. */
export interface NodeHooks {
  /** The simulated time (deadlines). */
  simTime(): number;
  /** The node's wall clock (the simulated time as this node's clock reads it). */
  wall(node: SimNode): number;
  /** The node's monotonic clock (performance.now), at its own rate. */
  mono(node: SimNode): number;
  /** Runs `fn` as a later event at the current time (the Ready loop's setImmediate). */
  defer(node: SimNode, fn: () => void): void;
  send(node: SimNode, messages: Message[]): void;
  /** A write joined the node's disk queue. */
  diskIssued(node: SimNode): void;
  beforeDurable(node: SimNode, req: SaveRequest, leaderTerm: number | undefined): void;
  afterDurable(node: SimNode, req: SaveRequest): void;
  /** Every Ready, as the loop takes it (a fault may arm a crash for it). */
  taken(node: SimNode, rd: Ready): void;
  softState(node: SimNode, role: Role, leader: NodeId): void;
  /** The node saves a new hard state (as leader: the commit index may have moved). */
  saving(node: SimNode, req: SaveRequest): void;
  /** Committed entries are about to be applied (before their hard state is durable). */
  applying(node: SimNode, rd: Ready): void;
  applied(node: SimNode, e: Entry): void;
  /** A KV entry applied, with its results (multi-group runs judge which group applied what). */
  kvApplied?(node: SimNode, index: number, entry: KvEntry, results: KvResult[]): void;
  confApplied(node: SimNode, e: Entry, conf: ConfState): void;
  snapshotInstalled(node: SimNode, snap: Snapshot): void;
  /** A Ready with committed entries was advanced. */
  settled(node: SimNode): void;
  /** The node proposed a leader duty (expiry, eviction): the keys it may delete. */
  dutyProposed(node: SimNode, ops: KvOp[]): void;
  /** The node crashed at an armed crash point. */
  crashed(node: SimNode, point: CrashPoint): void;
  /** Something the runtime would stop or log for: in the simulator, a violation. */
  failed(node: SimNode, what: string, err: unknown): void;
}

export interface NodeOptions {
  settings: NodeSettings;
  maxmemory: number;
  policy: EvictionPolicy;
  /** Time units a write or read waits before its outcome is unknown. */
  timeout: number;
  /** Lease reads: the node measures the lease on its own monotonic clock (src/node/lease.ts). */
  lease: boolean;
  /** Applied entries kept in memory (log-memory-entries): older ones are read back from the disk. */
  logMemoryEntries: number;
}

/** One incarnation of the process. */
class Process {
  readonly kv: KvStore;
  readonly proposals = new ProposalWaiters();
  readonly batch = new ProposalBatch();
  readonly reads: ReadWaiters;
  readonly applier: Applier;
  readonly loop: ReadyLoop;
  readonly duties: LeaderDuties;
  readonly lease: LeaseClock | undefined;
  raw!: RawNode;
  conf: ConfState;
  role: Role = Role.Follower;
  leader: NodeId = NONE;
  /** The chained digest of every entry applied (from the snapshot's, when restored). */
  digest = GENESIS_DIGEST;
  /** Set by an armed crash for the Ready being handled. */
  dying: CrashPoint | undefined;
  snapshotting = false;
  alive = true;

  constructor(
    readonly node: SimNode,
    readonly storage: SimStorage,
    private readonly opts: NodeOptions,
  ) {
    this.kv = new KvStore({ maxmemory: opts.maxmemory, policy: opts.policy });
    this.conf = storage.initialState().confState;
    if (opts.lease) this.lease = new LeaseClock({ now: () => node.hooks.mono(node), durationMs: leaseDurationMs(TICK, ELECTION_TICK) });
    // Read contexts start at a seeded random id per incarnation, as the runtime's start at a random one.
    const firstId = (BigInt(Math.floor(node.rng() * 2 ** 32)) << 32n) | BigInt(Math.floor(node.rng() * 2 ** 32));
    const hooks = node.hooks;
    this.reads = new ReadWaiters(
      (ctx, narrow) => {
        if (!this.alive) return;
        this.raw.readIndex(ctx, narrow);
        this.schedule();
      },
      firstId,
      // Held reads are asked for on the event queue's next deferred run, as the runtime's setImmediate.
      (fn) => hooks.defer(node, () => this.alive && fn()),
    );
    this.applier = new Applier({
      kv: this.kv,
      proposals: this.proposals,
      wall: () => hooks.wall(node),
      core: () => this.raw,
      applyConfChange: (e) => {
        this.conf = this.raw.applyConfChange(decodeConfChange(e.data));
        this.proposals.applied(e.index, e.term, this.conf);
        hooks.confApplied(node, e, this.conf);
      },
      kvApplied: (index, entry, results) => hooks.kvApplied?.(node, index, entry, results),
      unusable: (index, err) => hooks.failed(node, `entry ${index} could not be applied`, err),
    });
    // A deferred run of a dead incarnation's loop never happens.
    this.loop = new ReadyLoop(this.readyHost(), { defer: (fn) => hooks.defer(node, () => this.alive && fn()), now: () => 0 });
    const kv = this.kv;
    const duties = {
      kv,
      now: () => this.applier.now(),
      propose: (ops: KvOp[]) => {
        hooks.dutyProposed(node, ops);
        return node.propose(ops, hooks.simTime() + opts.timeout);
      },
      // The runtime paces expiry by its setInterval's clock: here, simulated time.
      time: () => hooks.simTime(),
      random: node.rng,
    };
    // The production class; maxmemory and the policy are read from the store at each call, as
    // the node's cluster-wide settings are.
    const settings = {
      get maxmemory() {
        return kv.maxmemory;
      },
      get maxmemoryPolicy() {
        return kv.policy;
      },
    };
    this.duties = new LeaderDuties(duties, settings, { debug: () => {} });
  }

  schedule(): void {
    // Before the core is built (a restart restoring its snapshot) there is nothing to run.
    if (this.alive && this.raw !== undefined) this.loop.schedule();
  }

  /** The Ready loop's view of this process (wiring.ts's Ready host, without the runtime's extras). */
  private readyHost(): ReadyHost {
    const p = this;
    const node = this.node;
    const hooks = node.hooks;
    return {
      get raw() {
        return p.raw;
      },
      role: () => this.role,
      onSoftState: (role, leader) => {
        if (!this.alive) return;
        const changed = leader !== this.leader;
        this.role = role;
        this.leader = leader;
        hooks.softState(node, role, leader);
        if (changed && leader !== NONE) queueMicrotask(() => this.alive && this.reads.resend());
        if (role !== Role.Leader) this.duties.reset();
      },
      beforeReady: () => {
        if (this.alive && this.batch.size > 0) this.batch.flush(this.refusal(), (data) => this.raw.proposeBatch(data), this.proposals);
      },
      send: (messages) => {
        if (!this.alive || this.dying === CrashPoint.AfterPersist || messages.length === 0) return;
        // wiring.ts's send: a lease starts when its round's heartbeats leave.
        this.lease?.sending(messages);
        hooks.send(node, messages);
      },
      save: (req) => {
        if (!this.alive) return new Promise(() => {});
        hooks.saving(node, req);
        if (!this.alive) return new Promise(() => {});
        const saved = this.storage.save(req, this.role === Role.Leader ? this.raw.term : undefined);
        const dying = this.dying;
        if (dying === CrashPoint.AfterPersist) this.storage.flush();
        if (dying !== undefined) hooks.crashed(node, dying);
        return saved;
      },
      saved: () => {},
      applyCommitted: (rd) => {
        if (!this.alive) return;
        if (rd.committedEntries.length > 0) hooks.applying(node, rd);
        for (const e of rd.committedEntries) {
          if (!this.alive) return;
          this.applier.applyEntry(e);
          this.digest = chainDigest(this.digest, e);
          hooks.applied(node, e);
        }
        for (const rs of rd.readStates) this.reads.onReadState(rs);
        this.reads.serve(this.applier.applied);
      },
      installSnapshot: async (snap) => {
        if (!this.alive || snap.meta.index <= this.applier.applied) return;
        await this.kv.restore(snap.data);
        if (!this.alive) return;
        this.proposals.skippedTo(snap.meta.index);
        this.applier.applied = snap.meta.index;
        this.conf = snap.meta.conf;
        hooks.snapshotInstalled(node, snap);
      },
      afterAdvance: (rd) => {
        if (!this.alive || rd.committedEntries.length === 0) return;
        this.storage.trim(this.applier.applied, this.opts.logMemoryEntries);
        if (this.role === Role.Leader) this.duties.afterApply();
        hooks.settled(node);
      },
      fail: (err) => hooks.failed(node, 'the Ready loop failed', err),
    };
  }

  /** RaftNode.refusal: why a proposal cannot be taken now. */
  refusal(): (() => Promise<never>) | undefined {
    if (!this.raw.isLeader) return () => Promise.reject(new RefusedError('not the leader', this.leader));
    if (this.raw.leadTransferee !== NONE) return () => Promise.reject(new RefusedError('handing leadership over', this.raw.leadTransferee));
    return undefined;
  }
}

export class SimNode {
  private proc: Process | undefined;
  /** Bumped by every start: events for an older incarnation are dropped. */
  incarnation = 0;
  /** Removed from the cluster and shut down for good. */
  decommissioned = false;
  /** Set by a torn crash fault: the next Ready is cut short at this point. */
  armedCrash: CrashPoint | undefined;
  armedDowntime = 0;
  /** Role and term as of the last soft state (cheaper than RawNode.status on every step). */
  role: Role = Role.Follower;
  term = 0;

  constructor(
    readonly id: NodeId,
    readonly disk: Disk,
    readonly hooks: NodeHooks,
    private readonly opts: NodeOptions,
    readonly rng: () => number,
  ) {}

  get up(): boolean {
    return this.proc?.alive === true && this.proc.raw !== undefined;
  }

  get raw(): RawNode | undefined {
    return this.up ? this.proc!.raw : undefined;
  }

  get kv(): KvStore | undefined {
    return this.up ? this.proc!.kv : undefined;
  }

  get applied(): number {
    return this.proc?.applier.applied ?? 0;
  }

  get digest(): number {
    return this.proc?.digest ?? GENESIS_DIGEST;
  }

  get conf(): ConfState | undefined {
    return this.proc?.conf;
  }

  /** The state restored from a snapshot has the digest the monitor knows for its index. */
  setDigest(digest: number): void {
    if (this.proc) this.proc.digest = digest;
  }

  /** The oldest write queued on the disk is durable. */
  writeDurable(): void {
    if (this.proc?.alive) this.proc.storage.completeOldest();
  }

  get queuedWrites(): number {
    return this.proc?.alive ? this.proc.storage.queued : 0;
  }

  /**
   * (Re)starts from the disk alone; the node is up once its state machine is restored (at
   * once for small images, which restore in microtasks). `digestAt` gives the digest of the
   * disk's snapshot.
   */
  async start(random: () => number, digestAt: (index: number) => number): Promise<void> {
    this.incarnation++;
    this.armedCrash = undefined;
    this.role = Role.Follower;
    const storage = new SimStorage(this.disk, {
      issued: () => this.hooks.diskIssued(this),
      beforeDurable: (req, leaderTerm) => this.hooks.beforeDurable(this, req, leaderTerm),
      afterDurable: (req) => this.hooks.afterDurable(this, req),
    });
    const p = new Process(this, storage, this.opts);
    this.proc = p;
    const snap = storage.snapshot();
    this.term = storage.initialState().hardState.term;
    if (snap.meta.index > 0) {
      await p.kv.restore(snap.data);
      if (!p.alive) return;
      p.applier.applied = snap.meta.index;
      p.digest = digestAt(snap.meta.index);
    }
    const lease = p.lease;
    const leaseHolds = lease ? (term: number, round: number) => lease.holds(term, round) : undefined;
    p.raw = new RawNode({ ...this.opts.settings, id: this.id, storage, applied: snap.meta.index, random, ...(leaseHolds ? { leaseHolds } : {}) });
    const ready = p.raw.ready.bind(p.raw);
    p.raw.ready = () => this.taken(p, ready());
    p.schedule();
  }

  /** The process dies: its queued writes are lost, its callbacks do nothing from now on. */
  crash(): number {
    const p = this.proc;
    if (!p?.alive) return 0;
    p.alive = false;
    this.role = Role.Follower;
    this.armedCrash = undefined;
    return p.storage.crash();
  }

  private taken(p: Process, rd: Ready): Ready {
    if (!p.alive) return rd;
    if (rd.softState) this.role = rd.softState.role;
    if (rd.hardState) this.term = rd.hardState.term;
    this.hooks.taken(this, rd);
    const armed = this.armedCrash;
    this.armedCrash = undefined;
    p.dying = armed;
    if (armed !== undefined && rd.entries.length === 0 && !rd.hardState && !rd.snapshot) {
      // Nothing to persist: the node dies holding the Ready's messages.
      if (armed === CrashPoint.AfterPersist) p.storage.flush();
      this.hooks.crashed(this, armed);
    }
    return rd;
  }

  // ---- what clients and the simulation call ----

  tick(now: number): void {
    const p = this.proc!;
    p.raw.tick();
    p.proposals.expire(now);
    p.reads.expire(now);
    if (p.role === Role.Leader) p.duties.onTick();
    p.schedule();
  }

  step(m: Message): void {
    this.proc!.raw.step(m);
    this.proc!.schedule();
  }

  /** Lets the Ready loop run soon (after a fault or report touched the core directly). */
  schedule(): void {
    this.proc?.schedule();
  }

  /** The node's clock for stamping entries and judging expiry on reads (RaftNode.now). */
  now(): number {
    return this.proc!.applier.now();
  }

  /** RaftNode.propose: KV operations as one atomic entry, resolved with their results once applied. */
  propose(ops: KvOp[], deadline: number, watch?: KvEntry['watch']): Promise<KvResult[]> {
    const p = this.proc!;
    const entry: KvEntry = { ts: this.now(), ops };
    if (watch && watch.length > 0) entry.watch = watch;
    const refused = p.refusal();
    if (refused) return refused();
    const result = p.batch.add(encodeEntry(entry), deadline) as Promise<KvResult[]>;
    p.schedule();
    return result;
  }

  /**
   * RaftNode.linearizableBarrier, after RESP's lease fast path (RaftNode.leaseRead, asked when
   * a read batch closes): under a lease that holds, with the commit index applied, the read goes
   * ahead with no barrier.
   */
  barrier(deadline: number): Promise<void> {
    const p = this.proc!;
    const index = p.raw.leaseReadIndex();
    if (index !== undefined && index <= p.applier.applied) return Promise.resolve();
    return p.reads.wait(deadline);
  }

  /** Snapshots the state machine at its applied index and compacts all but `tail` entries behind it. */
  snapshot(tail: number, taken: (index: number, digest: number, data: Uint8Array) => void): boolean {
    const p = this.proc;
    if (!p?.alive || p.snapshotting) return false;
    const index = p.applier.applied;
    if (index <= this.disk.log.snapshotMeta().index || index <= p.storage.snapshot().meta.index) return false;
    p.snapshotting = true;
    const { conf, digest } = p;
    const writer = p.kv.beginSnapshot();
    void (async () => {
      const parts: Uint8Array[] = [];
      for await (const chunk of writer) parts.push(chunk.slice());
      const data = Buffer.concat(parts);
      if (!p.alive) return;
      taken(index, digest, data);
      await p.storage.createSnapshot(index, conf, data, index - tail);
      p.snapshotting = false;
    })().catch((err) => this.hooks.failed(this, 'a snapshot failed', err));
    return true;
  }
}
