/**
 * The node's units, built from the parts open.ts recovered and connected to each other through
 * their host interfaces: each unit is handed only the few things it uses (ReadyHost,
 * WritesHost, MembershipHost, ...), here, so that no unit imports raft-node.ts and RaftNode
 * itself is left with its public API and its lifecycle (timers, shutdown).
 *
 * Hosts read the units they point at lazily (inside their functions), so the units can be built
 * in one pass although they refer to each other: a unit never calls its host while being built.
 */
import { encodeEntry, type KvEntry, type KvOp, type KvResult } from '../kv/index.ts';
import { type ConfState, type Entry, type Message, MessageType, NONE, Role } from '../raft/types.ts';
import { Applier } from './applier.ts';
import type { NodeConfig } from './config.ts';
import { LeaderDuties } from './leader-duties.ts';
import { type LeaderEvents, Leadership } from './leadership.ts';
import type { Logger } from './logger.ts';
import { Membership } from './membership.ts';
import { NodeMetrics } from './metrics.ts';
import { nodeStatus } from './node-status.ts';
import type { NodeParts } from './open.ts';
import { PeerContact } from './peer-contact.ts';
import { PeerInput } from './peer-input.ts';
import { ReadyLoop } from './ready-loop.ts';
import { RejectLoops } from './reject-loop.ts';
import { Removal } from './removal.ts';
import { Snapshotter } from './snapshotter.ts';
import { ProposalWaiters, ReadWaiters } from './waiters.ts';
import { enableWriteTrace, writeTrace } from './write-trace.ts';
import { Writes } from './writes.ts';

/** What only the node itself holds: whether it still runs, and its listeners. */
export interface NodeSide {
  /** The node stopped (shut down, or failed): no more Readies. */
  closed(): boolean;
  /** Where a wait for the next leader listens (leadership.ts). */
  readonly events: LeaderEvents;
  /** A leader was elected, or none is known (NONE): for the node's listeners. */
  leaderChanged(leader: string): void;
  /** An applied PUBLISH: every node delivers it to its own subscribers. */
  published(channel: Uint8Array, message: Uint8Array, shard: boolean): void;
  /** Apply wrote a key clients are blocked on (issue 14, `kv.takeReadied`): for the leader's registry. */
  keysReady(): void;
  /** This node was removed from the cluster (removal.ts). */
  removed(): void;
  /**
   * A split entry was applied (issue 13): the new group's image waits in the state machine
   * (`kv.takeSplitImage`). Called inside the apply, so the configuration is the one at `index`.
   */
  split(split: AppliedSplit): void;
  /** The Ready loop failed (storage): the node stops rather than lie. */
  fatal(err: unknown): void;
}

/** A split as applied: the new group's id and slots, and the parent's configuration then. */
export interface AppliedSplit {
  index: number;
  group: number;
  slots: readonly [number, number];
  conf: ConfState;
  /** The parent's address book, encoded (Members.encode). */
  members: Uint8Array;
}

export interface NodeUnits {
  readonly loop: ReadyLoop;
  readonly applier: Applier;
  readonly leadership: Leadership;
  readonly membership: Membership;
  readonly removal: Removal;
  readonly writes: Writes;
  readonly proposals: ProposalWaiters;
  readonly reads: ReadWaiters;
  readonly snapshotter: Snapshotter;
  readonly duties: LeaderDuties;
  readonly metrics: NodeMetrics;
  readonly peerInput: PeerInput;
  /** When each peer was last heard from (`raftkv status`'s last contact, /v1/cluster). */
  readonly contact: PeerContact;
  /** Lets the Ready loop take a turn soon, unless the node is closed. */
  scheduleReady(): void;
  /** Proposes KV operations as one atomic entry, stamped by the entry clock; resolves once applied. */
  propose(ops: KvOp[], watch?: KvEntry['watch']): Promise<KvResult[]>;
}

export function wireUnits(cfg: NodeConfig, log: Logger, parts: NodeParts, node: NodeSide): NodeUnits {
  const { raw, storage, transport, kv, members, settings, lease } = parts;
  if (cfg.traceWrites) enableWriteTrace(cfg.traceWrites, cfg.id);
  const proposals = new ProposalWaiters();
  const contact = new PeerContact();
  const scheduleReady = (): void => {
    if (!node.closed()) loop.schedule();
  };
  const propose = (ops: KvOp[], watch?: KvEntry['watch']): Promise<KvResult[]> => {
    const entry: KvEntry = { ts: applier.now(), ops };
    if (watch && watch.length > 0) entry.watch = watch;
    return writes.propose(encodeEntry(entry)) as Promise<KvResult[]>;
  };
  const isLeader = (): boolean => leadership.isLeader();

  const leadership: Leadership = new Leadership(
    {
      core: raw,
      members,
      events: node.events,
      voters: () => membership.conf.voters,
      links: () => transport.stats(),
      scheduleReady,
      leaderChanged: (leader) => {
        // A new leader is counted; "no leader" is not (as in etcd).
        if (leader !== NONE) metrics.leaderChanged();
        node.leaderChanged(leader);
        // Outside the Ready being handled: the core takes the requests on its next turn.
        if (leader !== NONE) queueMicrotask(() => reads.resend());
      },
    },
    cfg,
    log,
  );
  const removal: Removal = new Removal({
    id: cfg.id,
    log,
    confState: () => membership.conf,
    leaderId: () => leadership.leaderId,
    stop: () => node.removed(),
  });
  const rejectLoops: RejectLoops = new RejectLoops({
    log,
    logPosition: () => ({ lastIndex: storage.lastIndex(), commit: raw.status().commit }),
    matchOf: (peer) => (isLeader() ? raw.status().progress?.[peer]?.match : undefined),
    now: Date.now,
  });
  const writes: Writes = new Writes(
    {
      core: raw,
      closed: () => node.closed(),
      leaderId: () => leadership.leaderId,
      leader: () => leadership.leader(),
      nextLeader: (timeoutMs) => leadership.next(timeoutMs),
      scheduleReady,
      proposals,
    },
    cfg,
  );
  const membership: Membership = new Membership(
    {
      core: raw,
      isLeader,
      closed: () => node.closed(),
      leader: () => leadership.leader(),
      proposals,
      writeTimeoutMs: () => writes.timeoutMs(),
      scheduleReady,
      setPeers: (peers) => transport.setPeers(peers),
      removal,
      sinceMs: (id) => contact.sinceMs(id),
      linkUp: (id) => transport.stats()[id]?.state === 'connected',
    },
    members,
    cfg,
    log,
  );
  const metrics: NodeMetrics = new NodeMetrics({
    cfg,
    kv,
    get appliedIndex() {
      return applier.applied;
    },
    status: () => nodeStatus({ id: cfg.id, core: raw, storage, conf: () => membership.conf, applied: () => applier.applied }),
    isLeader,
    proposalCounts: () => ({ pending: proposals.size + writes.queued, failed: proposals.failed }),
    transport,
  });
  // Held reads are asked for a turn later, on the Ready loop's scheduler (the shared turn on a
  // multi-group node); setImmediate without one.
  const sched = parts.scheduler;
  const defer = sched ? (fn: () => void) => sched.defer(fn) : undefined;
  const reads: ReadWaiters = new ReadWaiters(
    (ctx, narrow) => {
      raw.readIndex(ctx, narrow);
      scheduleReady();
    },
    undefined,
    defer,
  );
  const snapshotter: Snapshotter = new Snapshotter(
    {
      kv,
      members,
      envelope: () => ({ index: applier.applied, conf: membership.conf, members: members.encode() }),
      taken: (ms) => metrics.snapshotTook(ms),
    },
    storage,
    cfg,
    log,
  );
  const peerInput: PeerInput = new PeerInput(
    {
      core: raw,
      closed: () => node.closed(),
      snapshotProblem: (data) => snapshotter.problem(data),
      scheduleReady,
      stepped: (m) => rejectLoops.incoming(m),
    },
    log,
  );
  const duties: LeaderDuties = new LeaderDuties({ kv, now: () => applier.now(), propose, time: Date.now, random: Math.random }, cfg, log);
  // Committed entries go to the state machine through the applier, which owns `applied`.
  const applier: Applier = new Applier({
    kv,
    proposals,
    wall: Date.now,
    core: () => raw,
    applyConfChange: (e) => membership.apply(e),
    kvApplied: (index, entry, results) => {
      metrics.applied(entry, results);
      if (kv.hasReadied) node.keysReady();
      for (const r of results) {
        if (r.type === 'publish') node.published(r.channel, r.message, r.shard);
        else if (r.type === 'settings') settings.applied(index, kv.settings, r.ignored);
        else if (r.type === 'split') node.split({ index, group: r.group, slots: r.slots, conf: membership.conf, members: members.encode() });
      }
    },
    unusable: (index, err) => log.error({ err, index }, `entry ${index} cannot be applied; applied as a no-op`),
  });

  const send = (messages: Message[]): void => {
    if (messages.length === 0) return;
    // Appends to a follower that rejects them in a loop are held back (reject-loop.ts).
    const out = rejectLoops.outgoing(messages);
    // A lease starts when its round's heartbeats leave, which may be after the core started it.
    if (cfg.readMode === 'lease') lease.sending(out);
    if (writeTrace) traceSent(out);
    transport.send(out);
  };
  const loop: ReadyLoop = new ReadyLoop(
    {
      raw,
      role: () => leadership.role,
      onSoftState: (role, leader) => {
        leadership.update(role, leader);
        if (role !== Role.Leader) duties.reset();
      },
      beforeReady: () => writes.flush(),
      send,
      save: (req, sync) => (writeTrace ? traceSave(storage.save(req, sync), req.entries) : storage.save(req, sync)),
      saved: (ms) => metrics.fsync(ms),
      applyCommitted: (rd) => {
        const t0 = performance.now();
        if (writeTrace) for (const e of rd.committedEntries) writeTrace.stamp('committed', e.index);
        for (const e of rd.committedEntries) {
          applier.applyEntry(e);
          writeTrace?.applied(e.index);
        }
        if (rd.committedEntries.length > 0) metrics.applyTook(performance.now() - t0);
        for (const rs of rd.readStates) reads.onReadState(rs);
        reads.serve(applier.applied);
      },
      installSnapshot: async (snap) => {
        if (snap.meta.index <= applier.applied) return;
        await snapshotter.install(snap);
        settings.restored(kv.settings);
        proposals.skippedTo(snap.meta.index);
        applier.applied = snap.meta.index;
        membership.restored(snap.meta.conf);
      },
      afterAdvance: (rd) => {
        if (rd.committedEntries.length === 0) return;
        // The core has counted these applied (advance): its reads start past them.
        storage.trim(applier.applied, raw.followersNeedFrom(), cfg.logMemoryEntries, cfg.logMemoryBytes);
        settings.caughtUp(applier.applied, kv.settings);
        if (isLeader()) duties.afterApply();
        snapshotter.maybeSnapshot(applier.applied);
      },
      fail: (err) => node.fatal(err),
    },
    parts.scheduler,
  );

  applier.applied = parts.applied;
  membership.restored(parts.conf);
  return { loop, applier, leadership, membership, removal, writes, proposals, reads, snapshotter, duties, metrics, peerInput, contact, scheduleReady, propose };
}

/** --trace-writes: the entries an App carries left, or a follower's ack of them (write-trace.ts). */
function traceSent(messages: Message[]): void {
  for (const m of messages) {
    if (m.type === MessageType.App) for (const e of m.entries) writeTrace!.stamp('sent', e.index);
    else if (m.type === MessageType.AppResp && !m.reject) writeTrace!.stamp('ackSent', m.index);
  }
}

/** --trace-writes: a Ready's entries went to storage, and are durable when `saved` settles. */
function traceSave(saved: Promise<void>, entries: Entry[] | undefined): Promise<void> {
  if (!entries || entries.length === 0) return saved;
  for (const e of entries) writeTrace!.stamp('saveStart', e.index);
  return saved.then(() => {
    for (const e of entries) writeTrace?.stamp('saveEnd', e.index);
  });
}
