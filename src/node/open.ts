/**
 * Opening a node's data directory: everything a RaftNode is made of, built before the node so
 * that it never exists half-built (no core assigned later, no message stepped into nothing).
 *
 * In order: the storage; the peer transport (its callbacks reach the node once it exists); the
 * address book and the state machine; a new cluster's bootstrap entries; the newest snapshot
 * restored into both; the cluster-wide settings as of the committed log (settings.ts); and the
 * consensus core, resuming at the snapshot's index. The Ready loop applies the rest of the log.
 */
import { KvStore, type KvStoreOptions } from '../kv/index.ts';
import { RawNode } from '../raft/index.ts';
import { type ConfState, type Entry, type Message, NONE, ReadOnlyOption } from '../raft/types.ts';
import { LevelStorage } from '../storage/index.ts';
import { Transport } from '../transport/index.ts';
import { adoptClusterId, settleClusterId } from './cluster-id.ts';
import type { NodeConfig } from './config.ts';
import { bootstrapEntries } from './leadership.ts';
import { LeaseClock, leaseDurationMs } from './lease.ts';
import type { Logger } from './logger.ts';
import { Members } from './members.ts';
import { peerSecret } from './peer-secret.ts';
import type { LoopScheduler } from './ready-loop.ts';
import { NodeSettings } from './settings.ts';
import { installSnapshot } from './snapshotter.ts';
import type { NodeTls } from './tls-config.ts';

/** How the transport reaches the node, once it is built (until then, nothing is delivered). */
export interface PeerHandlers {
  onMessage(m: Message): void;
  /** Knowing the secret is not enough: only members may dial in (Membership.isPeer). */
  isAllowedPeer(id: string): boolean;
  onUnreachable(id: string): void;
  onSnapshotStatus(id: string, ok: boolean): void;
  /** A keep-alive ping's round trip on the link to a peer (the metrics histogram). */
  onPeerRtt(id: string, ms: number): void;
  /** Whether `id` was removed from the cluster, so its link is closed as removed (removal.ts). */
  wasRemoved(id: string): boolean;
  /** A member that proved itself told this node it was removed. */
  onRemoved(by: string): void;
}

/** A node's parts as recovered from its data directory. */
export interface NodeParts {
  storage: LevelStorage;
  /** This group's sends and link state: the transport itself on a single-group node. */
  transport: NodeLink;
  /** The node's one transport, shared by its groups. */
  shared: Transport;
  raw: RawNode;
  kv: KvStore;
  members: Members;
  settings: NodeSettings;
  /** The snapshot's index: apply resumes after it. */
  applied: number;
  /** The snapshot's configuration; the log after it changes it as it is applied again. */
  conf: ConfState;
  /** Lease reads: when confirmation rounds left, on the monotonic clock (lease.ts); the core asks it. */
  lease: LeaseClock;
  /** When the Ready loop runs: the event loop's setImmediate unless a store shares one turn (store/turn.ts). */
  scheduler?: LoopScheduler;
}

/**
 * What a node's Raft groups send through: today's Transport for a single-group node, or one
 * group's scoped view of the node's shared Transport (src/node/store/group-link.ts).
 */
export type NodeLink = Pick<Transport, 'send' | 'setPeers' | 'stats' | 'groupStats' | 'inboundStats' | 'registerRoutes' | 'close' | 'clusterId'>;

/** `tls.peerDial`: the client side of wss:// peer links (tls-config.ts), when peer TLS is on. */
export async function openParts(cfg: NodeConfig, log: Logger, tls: Pick<NodeTls, 'peerDial'>, peers: PeerHandlers): Promise<NodeParts> {
  const storage = await LevelStorage.open(cfg.dataDir, { logger: log });
  const transport = openTransport(cfg, log, tls, peers, (id, from) => adoptClusterId(storage, log, id, from));
  transport.onUnreachable = (id) => peers.onUnreachable(id);
  transport.onSnapshotStatus = (id, ok) => peers.onSnapshotStatus(id, ok);
  const members = addressBook(cfg);
  const fresh = storage.snapshotMeta().index === 0 && storage.lastIndex() === 0 && storage.initialState().hardState.term === 0;
  const initial = fresh && !cfg.join ? bootstrapEntries(cfg.peers.length > 0 ? cfg.peers : [members.get(cfg.id)!]) : undefined;
  const identity = await settleClusterId(storage, { token: cfg.clusterToken, fresh, bootstrap: initial, alone: initial?.length === 1 });
  transport.clusterId = identity.id ?? '';
  log.info({ clusterId: identity.id ?? null, idFrom: identity.origin }, 'cluster identity');
  if (initial) await bootstrap(log, storage, initial);
  return openCore(cfg, log, { storage, link: transport, transport, members, kv: {} });
}

/**
 * The node's one peer transport. `learnClusterId`: where a joining node stores the id it
 * adopts. Group 1's callbacks are the caller's to set (a single-group node) or unused (a
 * multi-group node hosts every group through `transport.group`).
 */
export function openTransport(
  cfg: NodeConfig,
  log: Logger,
  tls: Pick<NodeTls, 'peerDial'>,
  peers: Pick<PeerHandlers, 'isAllowedPeer' | 'onPeerRtt' | 'wasRemoved' | 'onRemoved'> & { onMessage?: (m: Message) => void },
  learnClusterId: (id: string, from: string) => void,
): Transport {
  const { secret, derived } = peerSecret(cfg);
  if (derived) log.info('no cluster secret: peer links are loopback-only, authenticated by a secret derived from the cluster token');
  const onMessage = peers.onMessage;
  const transport = new Transport({
    nodeId: cfg.id,
    // Settled by the caller, before any link is made (cluster-id.ts).
    clusterId: '',
    learnClusterId,
    wasRemoved: (id) => peers.wasRemoved(id),
    onRemoved: (by) => peers.onRemoved(by),
    secret,
    ...(tls.peerDial ? { tls: tls.peerDial } : {}),
    logger: log.child({ component: 'transport' }),
    ...(onMessage ? { onMessage: (m: Message) => onMessage(m) } : {}),
    isAllowedPeer: (id) => peers.isAllowedPeer(id),
    // One log entry travels in one frame, so the frame limit follows the largest value.
    maxPayload: Math.max(cfg.maxValueBytes, 16 * 1024 * 1024) + 1024 * 1024,
    maxSnapshotBytes: cfg.maxSnapshotBytes,
    peerDownWarnMs: cfg.tickMs * cfg.electionTicks,
  });
  transport.onPeerRtt = (id, ms) => peers.onPeerRtt(id, ms);
  return transport;
}

/** The address book a node starts with: the --peers, and itself as it advertises itself. */
export function addressBook(cfg: NodeConfig): Members {
  const members = new Members(cfg.peers);
  const self = cfg.advertiseTlsPort ? { tlsPort: cfg.advertiseTlsPort } : {};
  members.set({ id: cfg.id, host: cfg.advertiseHost, port: cfg.advertisePort, httpPort: cfg.advertiseHttpPort, ...self });
  return members;
}

/** One group's storage and link, bootstrapped if new, before its state machine and core exist. */
export interface GroupStart {
  storage: LevelStorage;
  link: NodeLink;
  /** The whole transport, for what every group shares (RTT, forwarding). */
  transport: Transport;
  members: Members;
  /** The state machine's options: a sharded group's initial slots and per-slot counts. */
  kv: Pick<KvStoreOptions, 'slots' | 'countSlots'>;
  scheduler?: LoopScheduler;
  /** Whether this group's cluster-wide settings are the node's (settings.ts); yes by default. */
  settings?: ConstructorParameters<typeof NodeSettings>[2];
}

/**
 * The state machine, the settings and the consensus core of one group, from its storage: the
 * newest snapshot restored, the committed settings replayed, the core resuming at the snapshot.
 */
export async function openCore(cfg: NodeConfig, log: Logger, start: GroupStart): Promise<NodeParts> {
  const { storage, members } = start;
  const kv = new KvStore({ maxmemory: cfg.maxmemory, policy: cfg.maxmemoryPolicy, ...start.kv });
  const settings = new NodeSettings(cfg, log, start.settings);
  const snap = await storage.loadSnapshot();
  if (snap.meta.index > 0) await installSnapshot(snap, { kv, members }, log);
  // Serve under the committed cluster-wide settings from the start, not the flags (settings.ts).
  const commit = storage.initialState().hardState.commit;
  const tail = commit > snap.meta.index ? storage.entries(snap.meta.index + 1, commit + 1, Number.POSITIVE_INFINITY) : [];
  settings.atCommit(kv.settings, tail);
  const lease = new LeaseClock({ now: () => performance.now(), durationMs: leaseDurationMs(cfg.tickMs, cfg.electionTicks) });
  const raw = new RawNode({
    id: cfg.id,
    electionTick: cfg.electionTicks,
    heartbeatTick: cfg.heartbeatTicks,
    storage,
    applied: snap.meta.index,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    maxInflightBytes: 32 * 1024 * 1024,
    maxCommittedSizePerReady: 16 * 1024 * 1024,
    preVote: true,
    checkQuorum: true,
    readOnlyOption: cfg.readMode === 'lease' ? ReadOnlyOption.LeaseBased : ReadOnlyOption.Safe,
    random: Math.random,
    leaseHolds: (term, round) => lease.holds(term, round),
    logger: (level, msg) => log[level]({ component: 'raft' }, msg),
  });
  const parts: NodeParts = {
    storage,
    transport: start.link,
    shared: start.transport,
    raw,
    kv,
    members,
    settings,
    applied: snap.meta.index,
    conf: snap.meta.conf,
    lease,
  };
  if (start.scheduler) parts.scheduler = start.scheduler;
  return parts;
}

/**
 * A new cluster starts from log entries that add its initial members (leadership.ts): the
 * --peers, or this node alone.
 */
async function bootstrap(log: Logger, storage: LevelStorage, entries: Entry[]): Promise<void> {
  await storage.save({ entries, hardState: { term: 1, vote: NONE, commit: entries.length } });
  log.info({ voters: entries.length }, 'bootstrapped a new cluster');
}
