/**
 * One RaftKV server process: it owns the timers, drives the pure Raft core through the
 * Ready/advance contract, persists to LevelDB, talks to peers, applies committed entries to the
 * KV state machine and routes each result back to the caller that proposed it.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { KvStore, encodeEntry, type KvEntry, type KvOp, type KvResult } from '../kv/index.ts';
import { RawNode, decodeConfChange } from '../raft/index.ts';
import {
  ConfChangeType,
  MessageType,
  NONE,
  ReadOnlyOption,
  Role,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
} from '../raft/types.ts';
import { LevelStorage, type SnapshotInfo } from '../storage/index.ts';
import { Transport } from '../transport/index.ts';
import type { NodeConfig } from './config.ts';
import { LeaderDuties } from './leader-duties.ts';
import type { Logger } from './logger.ts';
import { InvalidMemberError, type Member, Members, checkMember, decodeMember, encodeMember, raftUrl } from './members.ts';
import { peerSecret } from './peer-secret.ts';
import { NodeMetrics } from './metrics.ts';
import { ProposalBatch } from './proposal-batch.ts';
import { NodeSettings } from './settings.ts';
import { Snapshotter } from './snapshotter.ts';
import { Applier, type ApplierHost } from './applier.ts';
import { LeaseClock, leaseDurationMs } from './lease.ts';
import { type ReadyHost, ReadyLoop } from './ready-loop.ts';
import { OutcomeUnknownError, ProposalWaiters, ReadWaiters } from './waiters.ts';
import { type NodeTls, secureHttp } from './tls-config.ts';
import { ConfChangePendingError, MemberExistsError, NodeClosedError, NotLeaderError, TransferTimeoutError, UnknownMemberError } from './errors.ts';
import { bestTransferTarget, bootstrapEntries, nextLeader } from './leadership.ts';

export { ConfChangePendingError, MemberExistsError, NodeClosedError, NotLeaderError, TransferTimeoutError, UnknownMemberError };

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

export class RaftNode extends EventEmitter<{ publish: [PublishEvent]; leader: [string]; fatal: [Error] }> {
  readonly members: Members;
  readonly metrics: NodeMetrics;
  readonly kv: KvStore;
  private raw!: RawNode;
  private conf: ConfState = { voters: [], learners: [] };
  private role: Role = Role.Follower;
  private leaderId = NONE;
  /** The most recent leader this node knew, kept while none is known (see lastKnownLeader). */
  private lastLeaderId = NONE;
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
  private readonly loop = new ReadyLoop(this.readyHost());
  private closed = false;
  private ticker: NodeJS.Timeout | undefined;
  private readonly proposals = new ProposalWaiters();
  private readonly batch = new ProposalBatch();
  private readonly reads: ReadWaiters;
  private readonly snapshotter: Snapshotter;
  private readonly duties: LeaderDuties;
  private readonly settings: NodeSettings;

  private constructor(
    readonly cfg: NodeConfig,
    readonly log: Logger,
    readonly storage: LevelStorage,
    readonly transport: Transport,
  ) {
    super();
    this.members = new Members(cfg.peers);
    const tls = cfg.advertiseTlsPort ? { tlsPort: cfg.advertiseTlsPort } : {};
    this.members.set({ id: cfg.id, host: cfg.advertiseHost, port: cfg.advertisePort, httpPort: cfg.advertiseHttpPort, ...tls });
    this.metrics = new NodeMetrics(this);
    this.kv = new KvStore({ maxmemory: cfg.maxmemory, policy: cfg.maxmemoryPolicy });
    this.settings = new NodeSettings(cfg, log);
    this.reads = new ReadWaiters((ctx) => {
      this.raw.readIndex(ctx);
      this.scheduleReady();
    });
    this.snapshotter = new Snapshotter(this, storage, log);
    this.duties = new LeaderDuties(this, cfg, log);
    this.lease = new LeaseClock({ now: () => performance.now(), durationMs: leaseDurationMs(cfg.tickMs, cfg.electionTicks) });
    this.applier = new Applier(this.applierHost());
  }

  /** Open storage, restore the newest snapshot and build the core; call `start` to begin ticking. */
  /** `tls.peerDial`: the client side of wss:// peer links (tls-config.ts), when peer TLS is on. */
  static async open(cfg: NodeConfig, log: Logger, tls: Pick<NodeTls, 'peerDial'> = {}): Promise<RaftNode> {
    const storage = await LevelStorage.open(cfg.dataDir, { logger: log });
    let node: RaftNode | undefined;
    const { secret, derived } = peerSecret(cfg);
    if (derived) log.info('no cluster secret: peer links are loopback-only, authenticated by a secret derived from the cluster id');
    const transport = new Transport({
      nodeId: cfg.id,
      clusterId: cfg.clusterId,
      secret,
      ...(tls.peerDial ? { tls: tls.peerDial } : {}),
      logger: log.child({ component: 'transport' }),
      onMessage: (m) => node?.onPeerMessage(m),
      // Knowing the secret is not enough: only members may dial in (see isPeer).
      isAllowedPeer: (id) => node?.isPeer(id) ?? false,
      // One log entry travels in one frame, so the frame limit follows the largest value.
      maxPayload: Math.max(cfg.maxValueBytes, 16 * 1024 * 1024) + 1024 * 1024,
      maxSnapshotBytes: cfg.maxSnapshotBytes,
    });
    node = new RaftNode(cfg, log, storage, transport);
    transport.onUnreachable = (id) => node?.raw.reportUnreachable(id);
    transport.onSnapshotStatus = (id, ok) => node?.raw.reportSnapshot(id, ok);
    await node.recover();
    return node;
  }

  private async recover(): Promise<void> {
    const snap = await this.storage.loadSnapshot();
    const fresh = snap.meta.index === 0 && this.storage.lastIndex() === 0 && this.storage.initialState().hardState.term === 0;
    if (fresh && !this.cfg.join) await this.bootstrap();
    if (snap.meta.index > 0) await this.snapshotter.install(snap);
    // Serve under the committed cluster-wide settings from the start, not the flags (settings.ts).
    const commit = this.storage.initialState().hardState.commit;
    const tail = commit > snap.meta.index ? this.storage.entries(snap.meta.index + 1, commit + 1, Number.POSITIVE_INFINITY) : [];
    this.settings.atCommit(this.kv.settings, tail);
    this.applied = snap.meta.index;
    this.conf = snap.meta.conf;
    this.raw = new RawNode({
      id: this.cfg.id,
      electionTick: this.cfg.electionTicks,
      heartbeatTick: this.cfg.heartbeatTicks,
      storage: this.storage,
      applied: snap.meta.index,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxInflightBytes: 32 * 1024 * 1024,
      maxCommittedSizePerReady: 16 * 1024 * 1024,
      preVote: true,
      checkQuorum: true,
      readOnlyOption: this.cfg.readMode === 'lease' ? ReadOnlyOption.LeaseBased : ReadOnlyOption.Safe,
      random: Math.random,
      leaseHolds: (term, round) => this.lease.holds(term, round),
      logger: (level, msg) => this.log[level]({ component: 'raft' }, msg),
    });
    this.refreshPeers();
    this.log.info(
      { snapshotIndex: snap.meta.index, lastIndex: this.storage.lastIndex(), voters: this.conf.voters },
      'recovered from data directory',
    );
  }

  private async bootstrap(): Promise<void> {
    const initial = this.cfg.peers.length > 0 ? this.cfg.peers : [this.members.get(this.cfg.id)!];
    const entries = bootstrapEntries(initial);
    await this.storage.save({ entries, hardState: { term: 1, vote: NONE, commit: entries.length } });
    this.log.info({ voters: entries.length }, 'bootstrapped a new cluster');
  }

  registerRoutes(app: FastifyInstance): Promise<void> | void {
    return this.transport.registerRoutes(app);
  }

  start(): void {
    this.ticker = setInterval(() => this.onTick(), this.cfg.tickMs);
    this.scheduleReady();
  }

  // ---- queries ------------------------------------------------------------------------------

  get id(): string {
    return this.cfg.id;
  }

  isLeader(): boolean {
    return this.role === Role.Leader;
  }

  leader(): Member | undefined {
    return this.leaderId === NONE ? undefined : this.members.get(this.leaderId);
  }

  /**
   * The current leader or, during an election, the last one this node knew. Redis Cluster keeps
   * a failed master as its slots' owner until a replica takes over; clients rely on that.
   */
  lastKnownLeader(): Member | undefined {
    return this.members.get(this.leaderId === NONE ? this.lastLeaderId : this.leaderId);
  }

  get appliedIndex(): number {
    return this.applied;
  }

  confState(): ConfState {
    return this.conf;
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
      voters: [...this.conf.voters],
      learners: [...this.conf.learners],
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

  // ---- writes -------------------------------------------------------------------------------

  /** Propose KV operations as one atomic entry; resolves with their results once applied. */
  propose(ops: KvOp[], watch?: KvEntry['watch']): Promise<KvResult[]> {
    const entry: KvEntry = { ts: this.now(), ops };
    if (watch && watch.length > 0) entry.watch = watch;
    return this.proposeBytes(encodeEntry(entry)) as Promise<KvResult[]>;
  }

  private proposeBytes(data: Uint8Array): Promise<unknown> {
    const refused = this.refusal();
    if (refused) return refused();
    const p = this.batch.add(data, Date.now() + this.writeTimeoutMs());
    this.scheduleReady();
    return p;
  }

  /** Why a proposal cannot be taken now, as the answer to give; undefined if it can. */
  private refusal(): (() => Promise<never>) | undefined {
    // Ask the core, not this.role: a vote request earlier in this turn may already have stepped
    // it down, and the Ready that tells us has not been handled yet.
    if (!this.raw.isLeader) return () => this.redirect();
    if (this.closed) return () => Promise.reject(new NodeClosedError());
    if (this.raw.leadTransferee !== NONE) return () => this.afterTransfer();
    return undefined;
  }

  /** The Ready loop is about to run: the turn's writes go to the core as one proposal. */
  private proposeBatch(): void {
    if (this.batch.size > 0) this.batch.flush(this.refusal(), (data) => this.raw.proposeBatch(data), this.proposals);
  }

  /**
   * A follower (even one shutting down) sends the caller to the leader. Right after a handover or
   * an election the leader is briefly unknown; wait for it rather than fail a write that the next
   * leader would accept.
   */
  private async redirect(): Promise<never> {
    // leaderId may still name us when the core stepped down earlier in this turn.
    if ((this.leaderId === NONE || this.leaderId === this.cfg.id) && !this.closed) {
      await nextLeader(this, this.cfg.id, this.cfg.tickMs * this.cfg.electionTicks * 2);
    }
    throw new NotLeaderError(this.leader());
  }

  /**
   * The core refuses proposals while it hands leadership over. Rather than fail the write, wait
   * for the handover and redirect the caller to the new leader, who will accept it.
   */
  private async afterTransfer(): Promise<never> {
    await nextLeader(this, this.cfg.id, this.cfg.tickMs * this.cfg.electionTicks * 2);
    throw new NotLeaderError(this.leader());
  }

  /** Never shorter than a few election timeouts, or every failover would time requests out. */
  private writeTimeoutMs(): number {
    return Math.max(this.cfg.requestTimeoutMs, this.cfg.tickMs * this.cfg.electionTicks * 4);
  }

  // ---- reads --------------------------------------------------------------------------------

  /** Resolves once this node may serve a linearizable read from its state machine. */
  linearizableBarrier(): Promise<void> {
    if (this.closed) return Promise.reject(new NodeClosedError());
    return this.reads.wait(Date.now() + this.writeTimeoutMs());
  }

  // ---- membership ---------------------------------------------------------------------------

  /** Add a member as a learner; it is promoted to voter automatically once caught up. */
  async addMember(m: Member): Promise<void> {
    checkMember(m);
    if (this.conf.voters.includes(m.id) || this.conf.learners.includes(m.id)) {
      throw new MemberExistsError(m.id);
    }
    await this.proposeConfChange({ type: ConfChangeType.AddLearner, node: m.id, context: encodeMember(m) });
  }

  async removeMember(id: string): Promise<void> {
    if (!this.conf.voters.includes(id) && !this.conf.learners.includes(id)) throw new UnknownMemberError(id);
    await this.proposeConfChange({ type: ConfChangeType.RemoveNode, node: id });
  }

  /**
   * Changes go one at a time, so an admin request that arrives while the previous change (or a
   * new leader's no-op) is still being applied waits for it rather than failing: right after an
   * election, or while a learner is being promoted, a refusal would only make the operator retry.
   */
  private async proposeConfChange(cc: Parameters<RawNode['proposeConfChange']>[0]): Promise<unknown> {
    const deadline = Date.now() + this.writeTimeoutMs();
    for (;;) {
      if (this.closed) throw new NodeClosedError();
      if (this.role !== Role.Leader) throw new NotLeaderError(this.leader());
      if (!this.raw.confChangePending) break;
      if (Date.now() >= deadline) throw new ConfChangePendingError();
      await new Promise((r) => setTimeout(r, this.cfg.tickMs));
    }
    const { index, term } = this.raw.proposeConfChange(cc);
    this.scheduleReady();
    return this.proposals.wait(index, term, deadline);
  }

  /** Hand leadership to `to` (or the most caught-up reachable voter); resolves with the new leader. */
  async transferLeadership(to?: string, timeoutMs = this.cfg.tickMs * this.cfg.electionTicks * 2): Promise<string> {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.leader());
    const links = this.transport.stats();
    const target = to ?? bestTransferTarget(this.conf.voters, this.cfg.id, this.progress() ?? {}, (id) => links[id]?.state === 'connected');
    if (!target) throw new UnknownMemberError('(no other reachable voter)');
    if (!this.conf.voters.includes(target) || target === this.cfg.id) throw new UnknownMemberError(target);
    const next = nextLeader(this, this.cfg.id, timeoutMs);
    this.raw.transferLeadership(target);
    this.scheduleReady();
    const leader = await next;
    if (leader === undefined) throw new TransferTimeoutError(target, timeoutMs);
    return leader;
  }

  // ---- the Ready loop -----------------------------------------------------------------------

  private onTick(): void {
    this.raw.tick();
    const now = Date.now();
    this.proposals.expire(now);
    this.reads.expire(now);
    if (this.role === Role.Leader) {
      this.duties.onTick();
      this.promoteCaughtUpLearners();
    }
    this.scheduleReady();
  }

  private onPeerMessage(m: Message): void {
    if (this.closed) return;
    if (m.type === MessageType.Snap && m.snapshot) {
      void this.onPeerSnapshot(m, m.snapshot.data);
      return;
    }
    this.stepPeerMessage(m);
  }

  /** A snapshot is checked before the core sees it: once taken, it is saved (snapshotter.problem). */
  private async onPeerSnapshot(m: Message, data: Uint8Array): Promise<void> {
    const problem = await this.snapshotter.problem(data);
    if (problem === undefined) return this.stepPeerMessage(m);
    this.log.warn({ from: m.from, index: m.snapshot?.meta.index, bytes: data.length, problem }, 'dropped a snapshot from a peer that cannot be installed');
  }

  private stepPeerMessage(m: Message): void {
    if (this.closed) return;
    try {
      this.raw.step(m);
    } catch (err) {
      this.log.warn({ err, from: m.from, type: m.type }, 'dropped a peer message the core refused');
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
      role: () => this.role,
      onSoftState: (role, leader) => this.onSoftState(role, leader),
      beforeReady: () => this.proposeBatch(),
      send: (messages) => this.send(messages),
      save: (req, sync) => this.storage.save(req, sync),
      saved: (ms) => this.metrics.fsync(ms),
      applyCommitted: (rd) => {
        for (const e of rd.committedEntries) this.applier.applyEntry(e);
        for (const rs of rd.readStates) this.reads.onReadState(rs);
        this.reads.serve(this.applied);
      },
      installSnapshot: async (snap) => {
        if (snap.meta.index <= this.applied) return;
        await this.snapshotter.install(snap);
        this.settings.restored(this.kv.settings);
        this.proposals.skippedTo(snap.meta.index);
        this.applied = snap.meta.index;
        this.conf = snap.meta.conf;
        this.refreshPeers();
      },
      afterAdvance: (rd) => {
        if (rd.committedEntries.length === 0) return;
        this.settings.caughtUp(this.applied, this.kv.settings);
        if (this.role === Role.Leader) this.duties.afterApply();
        this.snapshotter.maybeSnapshot(this.applied);
      },
      fail: (err) => {
        // Storage failures leave the node unable to keep its promises; stop rather than lie.
        if (this.closed) return;
        this.log.fatal({ err }, 'ready loop failed; stopping the node');
        this.closed = true;
        this.proposeBatch();
        process.exitCode = 1;
        this.emit('fatal', err as Error);
      },
    };
  }

  private send(messages: Message[]): void {
    if (messages.length === 0) return;
    // A lease starts when its round's heartbeats leave, which may be after the core started it.
    if (this.cfg.readMode === 'lease') this.lease.sending(messages);
    this.transport.send(messages);
  }

  private onSoftState(role: Role, leader: string): void {
    const leaderChanged = leader !== this.leaderId;
    if (role !== this.role) this.log.info({ role, term: this.raw.status().term }, `became ${role}`);
    this.role = role;
    this.leaderId = leader;
    if (leader !== NONE) this.lastLeaderId = leader;
    if (leaderChanged) {
      this.metrics.leaderChanges.inc();
      this.log.info({ leader: leader || null, term: this.raw.status().term }, 'leader changed');
      this.emit('leader', leader);
      // Outside the Ready being handled: the core takes the requests on its next turn.
      if (leader !== NONE) queueMicrotask(() => this.reads.resend());
    }
    if (role !== Role.Leader) this.duties.reset();
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

  /**
   * The change itself always reaches the core, so that every replica agrees on the voters; only
   * an unusable address is skipped (the member then has no known address). A record may only
   * address the node the change is about, or one entry could redirect another member's links.
   */
  private applyConfChange(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
      // Proposals are validated; NONE in the log would make "no node" a member.
      if (cc.node === NONE) throw new Error('conf change without a node id');
    } catch (err) {
      this.log.error({ err, index: e.index }, `conf change ${e.index} cannot be decoded; applied as a no-op`);
      this.proposals.unusable(e.index, `conf change ${e.index} could not be decoded`);
      return;
    }
    this.conf = this.raw.applyConfChange(cc);
    let member: Member | undefined;
    try {
      member = decodeMember(cc.context);
      if (member && member.id !== cc.node) throw new InvalidMemberError('id', `${member.id} does not match the change's node ${cc.node}`);
    } catch (err) {
      member = undefined;
      this.log.error({ err, index: e.index, node: cc.node }, `conf change ${e.index} carries an unusable address; applied without it`);
    }
    if (member) this.members.set(member);
    if (cc.type === ConfChangeType.RemoveNode) this.members.delete(cc.node);
    this.log.info({ change: cc.type, node: cc.node, voters: this.conf.voters, learners: this.conf.learners }, 'membership changed');
    this.refreshPeers();
    this.proposals.applied(e.index, e.term, this.conf);
  }

  /**
   * Every learner is a member on its way to voting (the admin API adds members only as learners
   * first), so whichever node leads promotes it once it has caught up: the leader that added it
   * may be gone by then.
   */
  private promoteCaughtUpLearners(): void {
    if (this.conf.learners.length === 0) return;
    const pr = this.progress() ?? {};
    const commit = this.raw.status().commit;
    for (const id of this.conf.learners) {
      if ((pr[id]?.match ?? 0) < commit) continue;
      try {
        const { index, term } = this.raw.proposeConfChange({ type: ConfChangeType.AddVoter, node: id });
        void this.proposals.wait(index, term, Date.now() + this.writeTimeoutMs()).catch(() => undefined);
        this.log.info({ node: id }, 'learner caught up; proposing promotion to voter');
      } catch {
        // the previous change is not applied yet (one at a time); retry on a later tick
      }
      return;
    }
  }

  /**
   * Who may dial in: a voter or learner of our configuration, or a member whose address we know.
   * The address book holds the learners being added and, on a node started with --join, the
   * --peers it was given, so a joining node accepts the leader before it has applied the change
   * that makes the leader known to its core. A removed member loses its link (refreshPeers).
   */
  private isPeer(id: string): boolean {
    return this.conf.voters.includes(id) || this.conf.learners.includes(id) || this.members.get(id) !== undefined;
  }

  /**
   * Links go to every configured member and every address we know: a node that is joining is in
   * no configuration yet (its own core's), but must still answer the leader.
   */
  private refreshPeers(): void {
    const ids = new Set([...this.conf.voters, ...this.conf.learners, ...this.members.all().map((m) => m.id)]);
    ids.delete(this.cfg.id);
    const peers: { id: string; url: string }[] = [];
    for (const id of ids) {
      const m = this.members.get(id);
      if (m) peers.push({ id, url: raftUrl(m, secureHttp(this.cfg)) });
      else this.log.warn({ node: id }, 'member has no known address');
    }
    this.transport.setPeers(peers);
  }

  /** Snapshot the state machine and compact the log now (admin API, benchmarks). */
  snapshotNow(): Promise<SnapshotInfo> {
    return this.snapshotter.take();
  }

  /** Exposed for the snapshotter: the state at `applied` to put in a snapshot. */
  snapshotEnvelope(): { index: number; conf: ConfState; members: Uint8Array } {
    return { index: this.applied, conf: this.conf, members: this.members.encode() };
  }

  // ---- shutdown -----------------------------------------------------------------------------

  /** SIGTERM path: a leader hands over first so clients see no failed write. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    if (this.role === Role.Leader && this.conf.voters.length > 1) {
      try {
        const to = await this.transferLeadership(undefined, this.cfg.tickMs * this.cfg.electionTicks * 2);
        this.log.info({ to }, 'handed leadership over before shutdown');
      } catch (err) {
        this.log.warn({ err }, 'leadership transfer before shutdown failed');
      }
      // Writes we proposed before the handover commit under the new leader; stay up as a
      // follower until we have applied them, so their callers hear the real outcome.
      const deadline = Date.now() + this.cfg.tickMs * this.cfg.electionTicks * 2;
      while (this.proposals.size + this.batch.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    await this.loop.stop();
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.proposeBatch();
    // These writes are in the log: they may still commit under another leader. Say so (HTTP
    // 504, RESP "outcome unknown"); NodeClosedError is for writes this node never proposed.
    this.proposals.failAll(new OutcomeUnknownError('this node shut down before the write was confirmed; its outcome is unknown'));
    this.reads.failAll(new NodeClosedError());
    await this.snapshotter.stop();
    await this.transport.close();
    await this.storage.close();
  }
}

