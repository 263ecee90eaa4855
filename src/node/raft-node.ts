/**
 * One RaftKV server process: it owns the timers, drives the pure Raft core through the
 * Ready/advance contract, persists to LevelDB, talks to peers, applies committed entries to the
 * KV state machine and routes each result back to the caller that proposed it.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { type KvStore, encodeEntry, type KvEntry, type KvOp, type KvResult } from '../kv/index.ts';
import type { RawNode } from '../raft/index.ts';
import { NONE, Role, type ConfState, type Entry, type Message } from '../raft/types.ts';
import type { LevelStorage, SnapshotInfo } from '../storage/index.ts';
import type { Transport } from '../transport/index.ts';
import type { NodeConfig } from './config.ts';
import { LeaderDuties } from './leader-duties.ts';
import type { Logger } from './logger.ts';
import type { Member, Members } from './members.ts';
import { Membership, type MembershipHost } from './membership.ts';
import { type NodeParts, openParts } from './open.ts';
import { PeerInput } from './peer-input.ts';
import { NodeMetrics } from './metrics.ts';
import type { NodeSettings } from './settings.ts';
import { type SnapshotHost, Snapshotter } from './snapshotter.ts';
import { Applier, type ApplierHost } from './applier.ts';
import type { LeaseClock } from './lease.ts';
import { PeerContact } from './peer-contact.ts';
import { type ReadyHost, ReadyLoop } from './ready-loop.ts';
import { OutcomeUnknownError, ProposalWaiters, ReadWaiters } from './waiters.ts';
import { type WritesHost, Writes } from './writes.ts';
import type { NodeTls } from './tls-config.ts';
import { NodeClosedError } from './errors.ts';
import { Leadership, type LeadershipHost } from './leadership.ts';
import { Removal } from './removal.ts';
import { RejectLoops } from './reject-loop.ts';

export interface PublishEvent {
  channel: Uint8Array;
  message: Uint8Array;
}

export interface NodeStatus {
  id: string;
  role: Role;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  voters: string[];
  learners: string[];
}

export class RaftNode extends EventEmitter<{ publish: [PublishEvent]; leader: [string]; fatal: [Error]; removed: [string] }> {
  readonly storage: LevelStorage;
  readonly transport: Transport;
  readonly members: Members;
  /** Whether this node was removed from the cluster, and which removed members to tell (removal.ts). */
  readonly removal: Removal;
  readonly metrics: NodeMetrics;
  readonly kv: KvStore;
  private readonly raw: RawNode;
  private readonly membership: Membership;
  private readonly leadership: Leadership;
  private readonly peerInput: PeerInput;
  /** Committed entries go to the state machine through the applier, which owns `applied`. */
  private readonly applier: Applier;
  private get applied(): number {
    return this.applier.applied;
  }
  private set applied(index: number) {
    this.applier.applied = index;
  }
  /** Lease reads: when confirmation rounds left, on the monotonic clock (lease.ts). */
  private readonly lease: LeaseClock;
  /** When each peer was last heard from (`raftkv status`'s last contact, /v1/cluster). */
  readonly contact = new PeerContact();
  private readonly loop = new ReadyLoop(this.readyHost());
  private closed = false;
  private ticker: NodeJS.Timeout | undefined;
  private readonly proposals = new ProposalWaiters();
  private readonly writes: Writes;
  private readonly reads: ReadWaiters;
  private readonly snapshotter: Snapshotter;
  private readonly duties: LeaderDuties;
  private readonly settings: NodeSettings;
  private readonly rejectLoops: RejectLoops;

  private constructor(
    readonly cfg: NodeConfig,
    readonly log: Logger,
    parts: NodeParts,
  ) {
    super();
    this.storage = parts.storage;
    this.transport = parts.transport;
    this.raw = parts.raw;
    this.kv = parts.kv;
    this.members = parts.members;
    this.settings = parts.settings;
    this.lease = parts.lease;
    this.leadership = new Leadership(this.leadershipHost(), cfg, log);
    this.removal = new Removal({
      id: cfg.id,
      log,
      confState: () => this.membership.conf,
      leaderId: () => this.leadership.leaderId,
      stop: () => this.onRemoved(),
    });
    this.rejectLoops = new RejectLoops({
      log,
      logPosition: () => ({ lastIndex: this.storage.lastIndex(), commit: this.raw.status().commit }),
      matchOf: (peer) => (this.isLeader() ? this.progress()?.[peer]?.match : undefined),
      now: Date.now,
    });
    this.writes = new Writes(this.writesHost(), cfg);
    this.membership = new Membership(this.membershipHost(), this.members, cfg, log);
    const node = this;
    this.metrics = new NodeMetrics({
      cfg,
      kv: this.kv,
      get appliedIndex() {
        return node.applied;
      },
      status: () => this.status(),
      isLeader: () => this.isLeader(),
      proposalCounts: () => this.proposalCounts(),
      transport: this.transport,
    });
    this.reads = new ReadWaiters((ctx) => {
      this.raw.readIndex(ctx);
      this.scheduleReady();
    });
    this.snapshotter = new Snapshotter(this.snapshotHost(), this.storage, cfg, log);
    this.peerInput = new PeerInput(
      {
        core: this.raw,
        closed: () => this.closed,
        snapshotProblem: (data) => this.snapshotter.problem(data),
        scheduleReady: () => this.scheduleReady(),
        stepped: (m) => this.rejectLoops.incoming(m),
      },
      log,
    );
    this.duties = new LeaderDuties(
      { kv: this.kv, now: () => this.now(), propose: (ops) => this.propose(ops), time: Date.now, random: Math.random },
      cfg,
      log,
    );
    this.applier = new Applier(this.applierHost());
    this.applied = parts.applied;
    this.membership.restored(parts.conf);
    log.info({ snapshotIndex: parts.applied, lastIndex: this.storage.lastIndex(), voters: this.membership.conf.voters }, 'recovered from data directory');
  }

  /** Open storage, restore the newest snapshot and build the core (open.ts); call `start` to begin ticking. */
  /** `tls.peerDial`: the client side of wss:// peer links (tls-config.ts), when peer TLS is on. */
  static async open(cfg: NodeConfig, log: Logger, tls: Pick<NodeTls, 'peerDial'> = {}): Promise<RaftNode> {
    let node: RaftNode | undefined;
    const parts = await openParts(cfg, log, tls, {
      onMessage: (m) => {
        node?.contact.heard(m.from);
        node?.peerInput.receive(m);
      },
      isAllowedPeer: (id) => node?.membership.isPeer(id) ?? false,
      onUnreachable: (id) => node?.raw.reportUnreachable(id),
      onSnapshotStatus: (id, ok) => node?.raw.reportSnapshot(id, ok),
      onPeerRtt: (id, ms) => node?.metrics.peerRtt(id, ms),
      wasRemoved: (id) => node?.removal.wasRemoved(id) ?? false,
      onRemoved: (by) => node?.removal.toldByPeer(by),
    });
    node = new RaftNode(cfg, log, parts);
    return node;
  }

  registerRoutes(app: FastifyInstance): Promise<void> | void {
    return this.transport.registerRoutes(app);
  }

  start(): void {
    if (!this.removal.removed) this.ticker = setInterval(() => this.onTick(), this.cfg.tickMs);
    this.scheduleReady();
  }

  // ---- queries ------------------------------------------------------------------------------

  get id(): string {
    return this.cfg.id;
  }

  /** The cluster this node's data belongs to; undefined while a joining node has not learned it. */
  get clusterId(): string | undefined {
    return this.transport.clusterId || undefined;
  }

  isLeader(): boolean {
    return this.leadership.isLeader();
  }

  leader(): Member | undefined {
    return this.leadership.leader();
  }

  /** The current leader or, during an election, the last one this node knew (leadership.ts). */
  lastKnownLeader(): Member | undefined {
    return this.leadership.lastKnownLeader();
  }

  get appliedIndex(): number {
    return this.applied;
  }

  confState(): ConfState {
    return this.membership.conf;
  }

  status(): NodeStatus {
    const s = this.raw.status();
    return {
      id: this.cfg.id,
      role: s.role,
      term: s.term,
      leader: s.lead,
      commit: s.commit,
      applied: this.applied,
      lastIndex: this.storage.lastIndex(),
      snapshotIndex: this.storage.snapshotMeta().index,
      voters: [...this.membership.conf.voters],
      learners: [...this.membership.conf.learners],
    };
  }

  /** Progress of followers, on the leader only. */
  progress(): Record<string, { match: number; next: number; state: string }> | undefined {
    return this.raw.status().progress;
  }

  /**
   * The clock entries are stamped with and reads judge expiry by (RESP and HTTP alike): never
   * behind a timestamp already in the log (entry-clock.ts).
   */
  now(): number {
    return this.applier.now();
  }

  /** For the metrics: proposals not yet decided, and those that ended in an error. */
  proposalCounts(): { pending: number; failed: number } {
    return { pending: this.proposals.size + this.writes.queued, failed: this.proposals.failed };
  }

  // ---- writes -------------------------------------------------------------------------------

  /** Propose KV operations as one atomic entry; resolves with their results once applied. */
  propose(ops: KvOp[], watch?: KvEntry['watch']): Promise<KvResult[]> {
    const entry: KvEntry = { ts: this.now(), ops };
    if (watch && watch.length > 0) entry.watch = watch;
    return this.proposeBytes(encodeEntry(entry)) as Promise<KvResult[]>;
  }

  private proposeBytes(data: Uint8Array): Promise<unknown> {
    return this.writes.propose(data);
  }

  /** The write path's view of this node (writes.ts). */
  private writesHost(): WritesHost {
    return {
      core: this.raw,
      closed: () => this.closed,
      leaderId: () => this.leadership.leaderId,
      leader: () => this.leader(),
      nextLeader: (timeoutMs) => this.leadership.next(timeoutMs),
      scheduleReady: () => this.scheduleReady(),
      proposals: this.proposals,
    };
  }

  // ---- reads --------------------------------------------------------------------------------

  /** Resolves once this node may serve a linearizable read from its state machine. */
  linearizableBarrier(): Promise<void> {
    if (this.closed) return Promise.reject(new NodeClosedError());
    return this.reads.wait(Date.now() + this.writes.timeoutMs());
  }

  // ---- membership ---------------------------------------------------------------------------

  /** Add a member as a learner; it is promoted to voter automatically once caught up. */
  addMember(m: Member): Promise<void> {
    return this.membership.add(m);
  }

  removeMember(id: string): Promise<void> {
    return this.membership.remove(id);
  }

  /** Make a learner a voter now, refused while it is behind (membership.ts). */
  promoteMember(id: string): Promise<void> {
    return this.membership.promote(id);
  }

  /** Membership's view of this node (membership.ts). */
  private membershipHost(): MembershipHost {
    const node = this;
    return {
      core: this.raw,
      isLeader: () => this.isLeader(),
      closed: () => this.closed,
      leader: () => this.leader(),
      proposals: this.proposals,
      writeTimeoutMs: () => this.writes.timeoutMs(),
      scheduleReady: () => this.scheduleReady(),
      setPeers: (peers) => this.transport.setPeers(peers),
      get removal() {
        return node.removal;
      },
    };
  }

  /** Hand leadership to `to` (or the most caught-up reachable voter); resolves with the new leader. */
  transferLeadership(to?: string, timeoutMs = this.cfg.tickMs * this.cfg.electionTicks * 2): Promise<string> {
    return this.leadership.transfer(to, timeoutMs);
  }

  /** Leader tracking's view of this node (leadership.ts). */
  private leadershipHost(): LeadershipHost {
    return {
      core: this.raw,
      members: this.members,
      events: this,
      voters: () => this.membership.conf.voters,
      links: () => this.transport.stats(),
      scheduleReady: () => this.scheduleReady(),
      leaderChanged: (leader) => {
        // A new leader is counted; "no leader" is not (as in etcd).
        if (leader !== NONE) this.metrics.leaderChanged();
        this.emit('leader', leader);
        // Outside the Ready being handled: the core takes the requests on its next turn.
        if (leader !== NONE) queueMicrotask(() => this.reads.resend());
      },
    };
  }

  // ---- the Ready loop -----------------------------------------------------------------------

  private onTick(): void {
    this.raw.tick();
    const now = Date.now();
    this.proposals.expire(now);
    this.reads.expire(now);
    if (this.isLeader()) {
      this.duties.onTick();
      this.membership.promoteCaughtUpLearners();
    }
    this.scheduleReady();
  }

  scheduleReady(): void {
    if (!this.closed) this.loop.schedule();
  }

  /** The Ready loop's view of this node. */
  private readyHost(): ReadyHost {
    const node = this;
    return {
      get raw() {
        return node.raw;
      },
      role: () => this.leadership.role,
      onSoftState: (role, leader) => {
        this.leadership.update(role, leader);
        if (role !== Role.Leader) this.duties.reset();
      },
      beforeReady: () => this.writes.flush(),
      send: (messages) => this.send(messages),
      save: (req, sync) => this.storage.save(req, sync),
      saved: (ms) => this.metrics.fsync(ms),
      applyCommitted: (rd) => {
        const t0 = performance.now();
        for (const e of rd.committedEntries) this.applier.applyEntry(e);
        if (rd.committedEntries.length > 0) this.metrics.applyTook(performance.now() - t0);
        for (const rs of rd.readStates) this.reads.onReadState(rs);
        this.reads.serve(this.applied);
      },
      installSnapshot: async (snap) => {
        if (snap.meta.index <= this.applied) return;
        await this.snapshotter.install(snap);
        this.settings.restored(this.kv.settings);
        this.proposals.skippedTo(snap.meta.index);
        this.applied = snap.meta.index;
        this.membership.restored(snap.meta.conf);
      },
      afterAdvance: (rd) => {
        if (rd.committedEntries.length === 0) return;
        this.settings.caughtUp(this.applied, this.kv.settings);
        if (this.isLeader()) this.duties.afterApply();
        this.snapshotter.maybeSnapshot(this.applied);
      },
      fail: (err) => {
        // Storage failures leave the node unable to keep its promises; stop rather than lie.
        if (this.closed) return;
        this.log.fatal({ err }, 'ready loop failed; stopping the node');
        this.closed = true;
        this.writes.flush();
        process.exitCode = 1;
        this.emit('fatal', err as Error);
      },
    };
  }

  private send(messages: Message[]): void {
    if (messages.length === 0) return;
    // Appends to a follower that rejects them in a loop are held back (reject-loop.ts).
    const out = this.rejectLoops.outgoing(messages);
    // A lease starts when its round's heartbeats leave, which may be after the core started it.
    if (this.cfg.readMode === 'lease') this.lease.sending(out);
    this.transport.send(out);
  }

  /** The applier's view of this node: conf changes and what KV results mean outside the store. */
  private applierHost(): ApplierHost {
    return {
      kv: this.kv,
      proposals: this.proposals,
      wall: Date.now,
      core: () => this.raw,
      applyConfChange: (e) => this.applyConfChange(e),
      kvApplied: (index, entry, results) => {
        this.metrics.applied(entry, results);
        for (const r of results) {
          if (r.type === 'publish') this.emit('publish', { channel: r.channel, message: r.message });
          else if (r.type === 'settings') this.settings.applied(index, this.kv.settings, r.ignored);
        }
      },
      unusable: (index, err) => this.log.error({ err, index }, `entry ${index} cannot be applied; applied as a no-op`),
    };
  }

  private applyConfChange(e: Entry): void {
    this.membership.apply(e);
  }

  /** This node was removed (removal.ts): no more ticks, so no campaigns; no more peer links. */
  private onRemoved(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.transport.setPeers([]);
    // Outside the apply or handshake that found out: listeners may shut the node down.
    setImmediate(() => this.emit('removed', this.removal.reason ?? 'removed'));
  }

  /** Snapshot the state machine and compact the log now (admin API, benchmarks). */
  snapshotNow(): Promise<SnapshotInfo> {
    return this.snapshotter.take();
  }

  /** The snapshotter's view of this node (snapshotter.ts). */
  private snapshotHost(): SnapshotHost {
    return {
      kv: this.kv,
      members: this.members,
      envelope: () => ({ index: this.applied, conf: this.membership.conf, members: this.members.encode() }),
      taken: (ms) => this.metrics.snapshotTook(ms),
    };
  }

  // ---- shutdown -----------------------------------------------------------------------------

  /** SIGTERM path: a leader hands over first so clients see no failed write. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    if (this.isLeader() && this.membership.conf.voters.length > 1) {
      try {
        const to = await this.transferLeadership(undefined, this.cfg.tickMs * this.cfg.electionTicks * 2);
        this.log.info({ to }, 'handed leadership over before shutdown');
      } catch (err) {
        this.log.warn({ err }, 'leadership transfer before shutdown failed');
      }
      // Writes we proposed before the handover commit under the new leader; stay up as a
      // follower until we have applied them, so their callers hear the real outcome.
      const deadline = Date.now() + this.cfg.tickMs * this.cfg.electionTicks * 2;
      while (this.proposals.size + this.writes.queued > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    await this.loop.stop();
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.writes.flush();
    // These writes are in the log: they may still commit under another leader. Say so (HTTP
    // 504, RESP "outcome unknown"); NodeClosedError is for writes this node never proposed.
    this.proposals.failAll(new OutcomeUnknownError('this node shut down before the write was confirmed; its outcome is unknown'));
    this.reads.failAll(new NodeClosedError());
    await this.snapshotter.stop();
    await this.transport.close();
    await this.storage.close();
  }
}

