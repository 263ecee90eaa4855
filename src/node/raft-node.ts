/**
 * One RaftKV server process: it owns the timers, drives the pure Raft core through the
 * Ready/advance contract, persists to LevelDB, talks to peers, applies committed entries to the
 * KV state machine and routes each result back to the caller that proposed it.
 *
 * This file is the node's public API (what resp/, http/ and cli/ use) and its lifecycle: open,
 * the tick timer, removal, a fatal storage failure and shutdown. The parts come from open.ts;
 * the units that do the work, and how they reach each other, from wiring.ts.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { KvEntry, KvOp, KvResult, KvStore } from '../kv/index.ts';
import type { RawNode } from '../raft/index.ts';
import type { ConfState } from '../raft/types.ts';
import type { LevelStorage, SnapshotInfo } from '../storage/index.ts';
import type { Transport } from '../transport/index.ts';
import type { NodeConfig } from './config.ts';
import { NodeClosedError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Member, Members } from './members.ts';
import type { ChangeOptions } from './membership.ts';
import type { NodeMetrics } from './metrics.ts';
import { type NodeStatus, nodeStatus } from './node-status.ts';
import { type NodeLink, type NodeParts, openParts, type PeerHandlers } from './open.ts';
import type { PeerContact } from './peer-contact.ts';
import type { Removal } from './removal.ts';
import type { NodeTls } from './tls-config.ts';
import { OutcomeUnknownError } from './waiters.ts';
import { type AppliedSplit, type NodeUnits, wireUnits } from './wiring.ts';

export interface PublishEvent {
  channel: Uint8Array;
  message: Uint8Array;
  /** SPUBLISH (shard channel subscribers), else PUBLISH. */
  shard: boolean;
}

export class RaftNode extends EventEmitter<{
  publish: [PublishEvent];
  leader: [string];
  fatal: [Error];
  removed: [string];
  split: [AppliedSplit];
  keysReady: [];
}> {
  readonly storage: LevelStorage;
  /** This group's sends and link state (the transport itself for a single-group node). */
  readonly transport: NodeLink;
  /** The node's one peer transport, which every group it hosts shares (links, forwarding). */
  readonly shared: Transport;
  readonly members: Members;
  /** Whether this node was removed from the cluster, and which removed members to tell (removal.ts). */
  readonly removal: Removal;
  readonly metrics: NodeMetrics;
  readonly kv: KvStore;
  /** When each peer was last heard from (`raftkv status`'s last contact, /v1/cluster). */
  readonly contact: PeerContact;
  private readonly raw: RawNode;
  /** The units this node is made of, each wired to the others through its host (wiring.ts). */
  private readonly units: NodeUnits;
  private closed = false;
  private started = false;
  private ticker: NodeJS.Timeout | undefined;

  private constructor(
    readonly cfg: NodeConfig,
    readonly log: Logger,
    parts: NodeParts,
    /** One group of a multi-group node (store/store.ts), rather than the process's only group. */
    private readonly hosted = false,
  ) {
    super();
    this.storage = parts.storage;
    this.transport = parts.transport;
    this.shared = parts.shared;
    this.raw = parts.raw;
    this.kv = parts.kv;
    this.members = parts.members;
    this.units = wireUnits(cfg, log, parts, {
      closed: () => this.closed,
      events: this,
      leaderChanged: (leader) => this.emit('leader', leader),
      published: (channel, message, shard) => this.emit('publish', { channel, message, shard }),
      keysReady: () => this.emit('keysReady'),
      removed: () => this.onRemoved(),
      split: (split) => this.emit('split', split),
      fatal: (err) => this.onFatal(err),
    });
    this.removal = this.units.removal;
    this.metrics = this.units.metrics;
    this.contact = this.units.contact;
    log.info({ snapshotIndex: parts.applied, lastIndex: this.storage.lastIndex(), voters: this.confState().voters }, 'recovered from data directory');
  }

  /** Open storage, restore the newest snapshot and build the core (open.ts); call `start` to begin ticking. */
  /** `tls.peerDial`: the client side of wss:// peer links (tls-config.ts), when peer TLS is on. */
  static open(cfg: NodeConfig, log: Logger, tls: Pick<NodeTls, 'peerDial'> = {}): Promise<RaftNode> {
    return RaftNode.build(cfg, log, (peers) => openParts(cfg, log, tls, peers));
  }

  /**
   * A node built from parts `open` makes once it is handed the node's peer handlers (which
   * reach the node once it exists): `open` above for a single-group node, one group of a
   * multi-group node's store (store/replicas.ts).
   */
  static async build(cfg: NodeConfig, log: Logger, open: (peers: PeerHandlers) => Promise<NodeParts>, hosted = false): Promise<RaftNode> {
    let node: RaftNode | undefined;
    const parts = await open({
      onMessage: (m) => {
        node?.contact.heard(m.from);
        node?.units.peerInput.receive(m);
      },
      isAllowedPeer: (id) => node?.units.membership.isPeer(id) ?? false,
      onUnreachable: (id) => node?.raw.reportUnreachable(id),
      onSnapshotStatus: (id, ok) => node?.raw.reportSnapshot(id, ok),
      onPeerRtt: (id, ms) => node?.metrics.peerRtt(id, ms),
      wasRemoved: (id) => node?.removal.wasRemoved(id) ?? false,
      onRemoved: (by) => node?.removal.toldByPeer(by),
    });
    node = new RaftNode(cfg, log, parts, hosted);
    return node;
  }

  registerRoutes(app: FastifyInstance): Promise<void> | void {
    return this.transport.registerRoutes(app);
  }

  start(): void {
    // A multi-group node's store ticks every group it hosts from one timer (tick()), so the
    // groups' heartbeats leave in the same turn and coalesce into one frame per peer.
    if (!this.removal.removed && !this.hosted) this.ticker = setInterval(() => this.onTick(), this.cfg.tickMs);
    this.started = true;
    this.scheduleReady();
  }

  /** One tick of a hosted group, from its store's timer (see start). */
  tick(): void {
    if (this.started && !this.closed) this.onTick();
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
    return this.units.leadership.isLeader();
  }

  leader(): Member | undefined {
    return this.units.leadership.leader();
  }

  /** The current leader or, during an election, the last one this node knew (leadership.ts). */
  lastKnownLeader(): Member | undefined {
    return this.units.leadership.lastKnownLeader();
  }

  get appliedIndex(): number {
    return this.units.applier.applied;
  }

  confState(): ConfState {
    return this.units.membership.conf;
  }

  status(): NodeStatus {
    return nodeStatus({ id: this.cfg.id, core: this.raw, storage: this.storage, conf: () => this.confState(), applied: () => this.appliedIndex });
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
    return this.units.applier.now();
  }

  /** Writes proposed here or queued for the core, and not decided yet. */
  private pending(): number {
    return this.units.proposals.size + this.units.writes.queued;
  }

  // ---- writes and reads ---------------------------------------------------------------------

  /** Propose KV operations as one atomic entry; resolves with their results once applied. */
  propose(ops: KvOp[], watch?: KvEntry['watch']): Promise<KvResult[]> {
    return this.units.propose(ops, watch);
  }

  /** Resolves once this node may serve a linearizable read from its state machine. */
  linearizableBarrier(): Promise<void> {
    if (this.closed) return Promise.reject(new NodeClosedError());
    return this.units.reads.wait(Date.now() + this.units.writes.timeoutMs());
  }

  // ---- membership ---------------------------------------------------------------------------

  /** Add a member as a learner; it is promoted to voter automatically once caught up. */
  addMember(m: Member, opts?: ChangeOptions): Promise<void> {
    return this.units.membership.add(m, opts);
  }

  /** Refused when it would wedge the cluster, unless forced (reconfig-check.ts); so are the others. */
  removeMember(id: string, opts?: ChangeOptions): Promise<void> {
    return this.units.membership.remove(id, opts);
  }

  /** Make a learner a voter now, refused while it is behind (membership.ts). */
  promoteMember(id: string, opts?: ChangeOptions): Promise<void> {
    return this.units.membership.promote(id, opts);
  }

  /** Hand leadership to `to` (or the most caught-up reachable voter); resolves with the new leader. */
  transferLeadership(to?: string, timeoutMs = this.cfg.tickMs * this.cfg.electionTicks * 2): Promise<string> {
    return this.units.leadership.transfer(to, timeoutMs);
  }

  /** Snapshot the state machine and compact the log now (admin API, benchmarks). */
  snapshotNow(): Promise<SnapshotInfo> {
    return this.units.snapshotter.take();
  }

  // ---- timers and the Ready loop ------------------------------------------------------------

  private onTick(): void {
    this.raw.tick();
    const now = Date.now();
    this.units.proposals.expire(now);
    this.units.reads.expire(now);
    if (this.isLeader()) {
      this.units.duties.onTick();
      this.units.membership.promoteCaughtUpLearners();
    }
    this.scheduleReady();
  }

  scheduleReady(): void {
    this.units.scheduleReady();
  }

  /** The Ready loop failed: storage failures leave the node unable to keep its promises; stop rather than lie. */
  private onFatal(err: unknown): void {
    if (this.closed) return;
    this.log.fatal({ err }, 'ready loop failed; stopping the node');
    this.closed = true;
    this.units.writes.flush();
    process.exitCode = 1;
    this.emit('fatal', err as Error);
  }

  /** This node was removed (removal.ts): no more ticks, so no campaigns; no more peer links. */
  private onRemoved(): void {
    // One group of a multi-group node: a removal in its log is not the end of the replica (it
    // may be a replay of history the log later undoes by adding it back); the store decides by
    // the slot map whether this node still hosts the group (store/reconcile.ts).
    if (this.hosted) return;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.transport.setPeers([]);
    // Outside the apply or handshake that found out: listeners may shut the node down.
    setImmediate(() => this.emit('removed', this.removal.reason ?? 'removed'));
  }

  // ---- shutdown -----------------------------------------------------------------------------

  /** SIGTERM path: a leader hands over first so clients see no failed write. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    if (this.isLeader() && this.confState().voters.length > 1) {
      try {
        const to = await this.transferLeadership(undefined, this.cfg.tickMs * this.cfg.electionTicks * 2);
        this.log.info({ to }, 'handed leadership over before shutdown');
      } catch (err) {
        this.log.warn({ err }, 'leadership transfer before shutdown failed');
      }
      // Writes we proposed before the handover commit under the new leader; stay up as a
      // follower until we have applied them, so their callers hear the real outcome.
      const deadline = Date.now() + this.cfg.tickMs * this.cfg.electionTicks * 2;
      while (this.pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    await this.units.loop.stop();
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.units.writes.flush();
    // These writes are in the log: they may still commit under another leader. Say so (HTTP
    // 504, RESP "outcome unknown"); NodeClosedError is for writes this node never proposed.
    this.units.proposals.failAll(new OutcomeUnknownError('this node shut down before the write was confirmed; its outcome is unknown'));
    this.units.reads.failAll(new NodeClosedError());
    await this.units.snapshotter.stop();
    await this.transport.close();
    await this.storage.close();
  }
}
