/**
 * Raft peer links over WebSocket.
 *
 * Every node dials every peer once (an outbound `PeerLink` per peer, which only sends) and
 * accepts the peers' links on `ws://host:port/raft/v1` (inbound connections, which only
 * deliver). Those links carry every Raft group the two nodes share: each message is tagged
 * with its group, and each group sends and receives through its endpoint (`group`, groups.ts);
 * `send`, `onMessage`, `onUnreachable` and `onSnapshotStatus` are group 1's. Frames are binary
 * (codec.ts; heartbeats coalesced per peer and turn, heartbeats.ts), links are mutually
 * authenticated (handshake.ts), large snapshots travel in chunks (snapshot-chunks.ts), and
 * every buffer is bounded: a slow or dead peer costs at most maxQueueBytes + maxBufferedBytes
 * + one batch, and the excess is dropped and counted, since Raft retransmits.
 *
 * `registerRoutes` registers `@fastify/websocket` itself, so that the transport owns ws's
 * maxPayload; the application must not register that plugin on the same instance.
 *
 * What an unauthenticated party costs is bounded too: its frames may not exceed
 * maxPreAuthPayload (inbound.ts), at most maxUnauthenticated connections (and
 * maxUnauthenticatedPerAddress from one address) may be authenticating at once, the rest are
 * refused at the HTTP upgrade with 503, and only members (isAllowedPeer) get past the handshake.
 * Incoming snapshots share maxSnapshotTransfers slots and are bounded by maxSnapshotBytes.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { type Message, MessageType, type NodeId } from '../raft/types.ts';
import { Backoff, checkBackoff } from './backoff.ts';
import { type GroupEndpoint, type GroupHandlers, type GroupId, GroupIds, GroupTable } from './groups.ts';
import { CloseCode, HANDSHAKE_FRAME_LIMIT, removedReason } from './handshake.ts';
import { InboundConnection } from './inbound.ts';
import { FRAME_OVERHEAD, type LinkLimits, type LinkStats, type LinkTls, PeerLink } from './link.ts';
import { SnapshotSlots } from './snapshot-chunks.ts';
import { closeSocket, PEER_PATH } from './socket.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Distinct unknown node ids warned about before further ones go to debug. */
const MAX_UNKNOWN_LOGGED = 256;

export const TRANSPORT_DEFAULTS = {
  /** Encoded bytes waiting per peer before new messages are dropped. */
  maxQueueBytes: 8 * MiB,
  maxQueueMessages: 4096,
  /** ws's bufferedAmount above which a link stops writing and lets its queue absorb. */
  maxBufferedBytes: 1 * MiB,
  /** Target size of one batch frame (a single larger message still goes alone). */
  maxBatchBytes: 256 * KiB,
  /** Largest frame accepted from or sent to a peer; above the largest App message Raft makes. */
  maxPayload: 16 * MiB,
  /** Snapshots larger than this travel in chunks of this size. */
  snapshotChunkBytes: 1 * MiB,
  /** Largest snapshot accepted from a peer (the node passes its max-snapshot-bytes setting). */
  maxSnapshotBytes: 2048 * MiB,
  /** Incoming snapshot transfers in progress at once, over all connections. */
  maxSnapshotTransfers: 2,
  /** Largest frame before the handshake completed; the handshake frames are under 1 KiB. */
  maxPreAuthPayload: HANDSHAKE_FRAME_LIMIT,
  /** Connections still authenticating, beyond which new ones are refused at the upgrade. */
  maxUnauthenticated: 16,
  /** The same, per remote address, so that one host cannot take every slot. */
  maxUnauthenticatedPerAddress: 4,
  /** An incoming chunked snapshot with no chunk for this long is dropped. */
  snapshotTimeoutMs: 30_000,
  /** Dial + authentication must finish within this. */
  handshakeTimeoutMs: 5_000,
  /** A ping unanswered for a whole interval closes the link. */
  pingIntervalMs: 5_000,
  /** The default election timeout (10 ticks of 50 ms); the node passes its own. */
  peerDownWarnMs: 500,
  backoff: { minMs: 100, maxMs: 5_000 },
} as const;

export interface Peer {
  id: NodeId;
  /** ws://host:port/raft/v1 (or wss://). */
  url: string;
}

export interface TransportOptions extends Partial<LinkLimits> {
  nodeId: NodeId;
  /** The cluster id at start; '' for a node that joins with empty data (see clusterId). */
  clusterId: string;
  /** A node without a cluster id adopted `id` from peer `peerId` (handshake.ts): store it. */
  learnClusterId?: (id: string, peerId: NodeId) => void;
  /** Whether a node that is not a peer was removed from the cluster: it is told so (CloseCode.Removed). */
  wasRemoved?: (id: NodeId) => boolean;
  /** Peer `by`, after proving itself, said this node was removed from the cluster. */
  onRemoved?: (by: NodeId) => void;
  secret: string | Uint8Array;
  /** Client side of wss:// links (the server side is the fastify instance's https options). */
  tls?: LinkTls;
  /** Used as given; the caller binds whatever names the component. */
  logger: Logger;
  /** Group 1's messages: given, group 1 is hosted from the start (a single-group node). */
  onMessage?: (m: Message) => void;
  /** Coalesce heartbeats per peer and turn into Heartbeats frames (default true; false for comparison). */
  coalesceHeartbeats?: boolean;
  /** Which node ids may dial in; by default, the peers last given to setPeers. */
  isAllowedPeer?: (id: NodeId) => boolean;
  maxSnapshotBytes?: number;
  maxSnapshotTransfers?: number;
  maxPreAuthPayload?: number;
  maxUnauthenticated?: number;
  maxUnauthenticatedPerAddress?: number;
  snapshotTimeoutMs?: number;
  backoff?: { minMs: number; maxMs: number };
  /** Uniform in [0, 1), for backoff jitter. */
  random?: () => number;
}

export class TransportConfigError extends Error {
  override name = 'TransportConfigError';
}

export class Transport {
  /** Group 1: a message to `id` was dropped because the link is down or saturated, or the link fell. */
  onUnreachable?: (id: NodeId) => void;
  /** Group 1: a Snap message to `id` was completely written to the socket (true) or lost (false). */
  onSnapshotStatus?: (id: NodeId, ok: boolean) => void;
  /** A ping on the outbound link to `id` was answered after `ms` milliseconds. */
  onPeerRtt?: (id: NodeId, ms: number) => void;
  /** A Forward frame's body from the authenticated member `from` (src/resp/proxy/). */
  onForward?: (from: NodeId, body: Uint8Array) => void;
  /** The outbound link to `id` was up and went down. */
  onPeerDown?: (id: NodeId) => void;

  private readonly links = new Map<NodeId, PeerLink>();
  private readonly groups: GroupTable;
  private readonly inbound = new Set<InboundConnection>();
  private readonly inboundByPeer = new Map<NodeId, InboundConnection>();
  private readonly limits: LinkLimits;
  private readonly log: Logger;
  private readonly isAllowedPeer: (id: NodeId) => boolean;
  private readonly snapshotSlots: SnapshotSlots;
  private readonly guard: { preAuthPayload: number; total: number; perAddress: number };
  /** Node ids already refused as unknown peers at warn level (bounded: see firstUnknownPeer). */
  private readonly unknownLogged = new Set<string>();
  private unknownOverflowLogged = false;
  private closed = false;
  /** Presented in every handshake; set once on a joining node (learnClusterId), never changed. */
  clusterId: string;

  constructor(private readonly opts: TransportOptions) {
    this.clusterId = opts.clusterId;
    const d = TRANSPORT_DEFAULTS;
    this.limits = {
      maxQueueBytes: opts.maxQueueBytes ?? d.maxQueueBytes,
      maxQueueMessages: opts.maxQueueMessages ?? d.maxQueueMessages,
      maxBufferedBytes: opts.maxBufferedBytes ?? d.maxBufferedBytes,
      maxBatchBytes: opts.maxBatchBytes ?? d.maxBatchBytes,
      maxPayload: opts.maxPayload ?? d.maxPayload,
      snapshotChunkBytes: opts.snapshotChunkBytes ?? d.snapshotChunkBytes,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? d.handshakeTimeoutMs,
      pingIntervalMs: opts.pingIntervalMs ?? d.pingIntervalMs,
      peerDownWarnMs: opts.peerDownWarnMs ?? d.peerDownWarnMs,
    };
    for (const [name, v] of Object.entries(this.limits)) {
      if (!(Number.isSafeInteger(v) && v > 0)) throw new TransportConfigError(`${name} must be a positive integer`);
    }
    if (this.limits.snapshotChunkBytes + FRAME_OVERHEAD > this.limits.maxPayload) {
      throw new TransportConfigError('snapshotChunkBytes must leave 16 KiB of room under maxPayload');
    }
    if (this.limits.maxBatchBytes > this.limits.maxPayload) {
      throw new TransportConfigError('maxBatchBytes must not exceed maxPayload');
    }
    this.guard = {
      preAuthPayload: opts.maxPreAuthPayload ?? d.maxPreAuthPayload,
      total: opts.maxUnauthenticated ?? d.maxUnauthenticated,
      perAddress: opts.maxUnauthenticatedPerAddress ?? d.maxUnauthenticatedPerAddress,
    };
    for (const [name, v] of Object.entries(this.guard)) {
      if (!(Number.isSafeInteger(v) && v > 0)) throw new TransportConfigError(`${name} must be a positive integer`);
    }
    if (this.guard.preAuthPayload > this.limits.maxPayload) {
      throw new TransportConfigError('maxPreAuthPayload must not exceed maxPayload');
    }
    const transfers = opts.maxSnapshotTransfers ?? d.maxSnapshotTransfers;
    if (!(Number.isSafeInteger(transfers) && transfers > 0)) {
      throw new TransportConfigError('maxSnapshotTransfers must be a positive integer');
    }
    this.snapshotSlots = new SnapshotSlots(transfers);
    if (opts.secret.length === 0) throw new TransportConfigError('the cluster secret must not be empty');
    if (!opts.nodeId) throw new TransportConfigError('nodeId must not be empty');
    checkBackoff(opts.backoff ?? d.backoff);
    this.log = opts.logger;
    this.isAllowedPeer = opts.isAllowedPeer ?? ((id) => this.links.has(id));
    this.groups = new GroupTable({ sendGroup: (g, ms) => this.sendGroup(g, ms) }, this.log);
    if (opts.onMessage) {
      const one = this.groups.open(GroupIds.Default, { onMessage: opts.onMessage });
      one.onUnreachable = (id) => this.onUnreachable?.(id);
      one.onSnapshotStatus = (id, ok) => this.onSnapshotStatus?.(id, ok);
    }
  }

  /**
   * Hosts group `id` and returns its endpoint: its messages arrive at `handlers.onMessage`,
   * and it sends through the node's links like `send`. Throws GroupConfigError if `id` is not a
   * uint32 or is hosted already (group 1 is, when `onMessage` was given).
   */
  group(id: GroupId, handlers: GroupHandlers): GroupEndpoint {
    return this.groups.open(id, handlers);
  }

  /** Hosted groups, and messages dropped on arrival because their group is not hosted. */
  groupStats(): { hosted: number; unhostedDropped: number } {
    return { hosted: this.groups.size, unhostedDropped: this.groups.unhosted };
  }

  /**
   * Registers `@fastify/websocket` and the peer route on `app`. Call before `app.listen`.
   * Generic over the logger so that an instance built with a pino `loggerInstance` is accepted
   * as it is. ws's maxPayload is the pre-auth limit; each socket gets the full maxPayload once
   * its peer has authenticated.
   */
  async registerRoutes<L extends FastifyBaseLogger>(app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>): Promise<void> {
    if (app.hasDecorator('websocketServer')) {
      throw new TransportConfigError('@fastify/websocket is already registered; Transport.registerRoutes registers it itself (it owns maxPayload)');
    }
    await app.register(websocket, {
      options: { maxPayload: this.guard.preAuthPayload, perMessageDeflate: false },
      // Each connection logs its own errors; the default handler would destroy the socket
      // before ws's close frame (say 1009, message too big) reaches the peer.
      errorHandler: () => {},
    });
    app.get(
      PEER_PATH,
      {
        websocket: true,
        // Runs before the upgrade: refusing here costs an HTTP reply, not a WebSocket.
        preValidation: async (req, reply) => {
          const busy = this.tooManyUnauthenticated(req.socket.remoteAddress ?? '?');
          if (busy) {
            this.log.debug({ remote: req.socket.remoteAddress, busy }, 'peer upgrade refused');
            await reply.code(503).header('retry-after', '1').send({ error: busy });
          }
        },
      },
      (socket, req) => this.accept(socket, req.socket.remoteAddress ?? '?'),
    );
  }

  /** Why one more unauthenticated connection from `remote` is refused; undefined if it is not. */
  private tooManyUnauthenticated(remote: string): string | undefined {
    let total = 0;
    let fromRemote = 0;
    for (const c of this.inbound) {
      if (c.peerId !== undefined) continue;
      total++;
      if (c.remote === remote) fromRemote++;
    }
    if (total >= this.guard.total) return `${total} peer connections are already authenticating`;
    if (fromRemote >= this.guard.perAddress) return `${fromRemote} peer connections from ${remote} are already authenticating`;
    return undefined;
  }

  /**
   * Warn about an unknown peer id once; the set is bounded so that a peer cycling through
   * random ids cannot grow it (past the bound, refusals are logged at debug only).
   */
  private firstUnknownPeer(id: string): boolean {
    if (this.unknownLogged.has(id)) return false;
    if (this.unknownLogged.size >= MAX_UNKNOWN_LOGGED) {
      if (!this.unknownOverflowLogged) {
        this.unknownOverflowLogged = true;
        this.log.warn({ ids: MAX_UNKNOWN_LOGGED }, 'many unknown node ids refused; further ones are logged at debug');
      }
      return false;
    }
    this.unknownLogged.add(id);
    return true;
  }

  /**
   * Adds, removes and re-addresses outbound links to match `peers` (this node is skipped). Never
   * throws: it runs when a membership change is applied, so a peer with an unusable URL (or
   * listed twice) is skipped with a warning and the other links are kept.
   */
  setPeers(peers: Peer[]): void {
    if (this.closed) return;
    const wanted = new Map<NodeId, string>();
    for (const p of peers) {
      if (p.id === this.opts.nodeId) continue;
      const problem = wanted.has(p.id) ? 'listed twice' : urlProblem(p.url);
      if (problem) this.log.warn({ peer: p.id, url: p.url }, `peer skipped: ${problem}`);
      else wanted.set(p.id, p.url);
    }
    for (const [id, link] of this.links) {
      if (!wanted.has(id)) {
        this.links.delete(id);
        this.log.info({ peer: id }, 'peer removed');
        void link.close(CloseCode.Normal, 'peer removed');
      }
    }
    for (const [id, url] of wanted) {
      const link = this.links.get(id);
      if (link) {
        link.setUrl(url);
        continue;
      }
      this.log.debug({ peer: id, url }, 'peer added');
      this.links.set(id, this.newLink(id, url));
    }
    for (const conn of this.inbound) {
      if (conn.peerId !== undefined && !this.isAllowedPeer(conn.peerId)) {
        this.log.info({ peer: conn.peerId }, 'closing the link of a node that is no longer a peer');
        // This connection authenticated us to the peer, so it may carry the news of its removal.
        if (this.opts.wasRemoved?.(conn.peerId)) conn.close(CloseCode.Removed, removedReason(conn.peerId));
        else conn.close(CloseCode.UnknownPeer, 'no longer a peer');
      }
    }
  }

  /**
   * Queues messages to their peers and returns at once. A message that cannot be queued (link
   * down or saturated, unknown peer) is dropped and counted, and `onUnreachable` is told after
   * this call returns. Messages must not be mutated after they were handed over.
   */
  send(messages: Message[]): void {
    this.sendGroup(GroupIds.Default, messages);
  }

  /** `send` for group `group` (its endpoint's send); drops are reported to that group. */
  private sendGroup(group: GroupId, messages: Message[]): void {
    if (this.closed) return;
    let unreachable: Set<NodeId> | undefined;
    for (const m of messages) {
      const link = this.links.get(m.to);
      const ok = link ? link.send(m, group) : false;
      if (!link) this.log.debug({ to: m.to, type: m.type, group }, 'message for an unknown peer dropped');
      // A lost Snap is reported through onSnapshotStatus instead.
      if (!ok && (m.type !== MessageType.Snap || !link)) {
        unreachable ??= new Set();
        unreachable.add(m.to);
      }
    }
    if (unreachable) {
      const ids = unreachable;
      // Deferred so the runtime is never re-entered from inside its own send call.
      queueMicrotask(() => {
        for (const id of ids) this.groups.unreachable(group, id);
      });
    }
  }

  /**
   * Sends a Forward frame to the member `to` over its authenticated link (see
   * PeerLink.sendForward); false when it did not leave.
   */
  sendForward(to: NodeId, body: Uint8Array, budget: number, always = false): boolean {
    if (this.closed) return false;
    return this.links.get(to)?.sendForward(body, budget, always) ?? false;
  }

  /** The largest frame a peer accepts from this node (and this node from a peer). */
  get maxPayload(): number {
    return this.limits.maxPayload;
  }

  stats(): Record<NodeId, LinkStats> {
    const out: Record<NodeId, LinkStats> = {};
    for (const [id, link] of this.links) out[id] = link.stats();
    return out;
  }

  /** Closes every link, inbound and outbound; the fastify instance is the caller's to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending: Promise<void>[] = [];
    for (const link of this.links.values()) pending.push(link.close(CloseCode.GoingAway, 'node shutting down'));
    this.links.clear();
    for (const conn of this.inbound) {
      conn.close(CloseCode.GoingAway, 'node shutting down');
      pending.push(conn.closed());
    }
    await Promise.all(pending);
  }

  private newLink(id: NodeId, url: string): PeerLink {
    const { opts } = this;
    const transport = this;
    return new PeerLink({
      self: opts.nodeId,
      peer: id,
      url,
      // Read at each dial: a joining node learns its id after its links were made.
      get clusterId() {
        return transport.clusterId;
      },
      secret: opts.secret,
      ...(opts.tls ? { tls: opts.tls } : {}),
      limits: this.limits,
      coalesceHeartbeats: opts.coalesceHeartbeats ?? true,
      backoff: new Backoff(opts.backoff ?? TRANSPORT_DEFAULTS.backoff, opts.random ?? Math.random),
      logger: this.log,
      onUnreachable: (peer) => this.groups.linkFell(peer),
      onSnapshotStatus: (group, peer, ok) => this.groups.snapshotStatus(group, peer, ok),
      onRtt: (peer, ms) => this.onPeerRtt?.(peer, ms),
      onDown: (peer) => this.onPeerDown?.(peer),
      onRemoved: (peer) => this.opts.onRemoved?.(peer),
    });
  }

  private accept(socket: WebSocket, remote: string): void {
    if (this.closed) {
      closeSocket(socket, CloseCode.GoingAway, 'node shutting down');
      return;
    }
    // The upgrade hook checked this already; connections racing through it are refused here.
    const busy = this.tooManyUnauthenticated(remote);
    if (busy) {
      this.log.debug({ remote, busy }, 'peer connection refused');
      closeSocket(socket, CloseCode.TryAgainLater, busy);
      return;
    }
    const { opts } = this;
    const transport = this;
    const conn = new InboundConnection(socket, remote, {
      get clusterId() {
        return transport.clusterId;
      },
      learnClusterId: (id, peer) => {
        opts.learnClusterId?.(id, peer);
        this.clusterId = id;
      },
      ...(opts.wasRemoved ? { wasRemoved: opts.wasRemoved } : {}),
      nodeId: opts.nodeId,
      secret: opts.secret,
      isAllowedPeer: this.isAllowedPeer,
      logger: this.log,
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
      pingIntervalMs: this.limits.pingIntervalMs,
      maxPayload: this.limits.maxPayload,
      maxSnapshotBytes: opts.maxSnapshotBytes ?? TRANSPORT_DEFAULTS.maxSnapshotBytes,
      snapshotSlots: this.snapshotSlots,
      firstUnknownPeer: (id) => this.firstUnknownPeer(id),
      snapshotTimeoutMs: opts.snapshotTimeoutMs ?? TRANSPORT_DEFAULTS.snapshotTimeoutMs,
      hosts: (g) => this.groups.hosts(g),
      unhosted: (g, from) => this.groups.dropUnhosted(g, from),
      deliver: (g, m) => this.groups.deliver(g, m),
      deliverForward: (from, body) => this.onForward?.(from, body),
      onAuthenticated: (c) => {
        const id = c.peerId!;
        const previous = this.inboundByPeer.get(id);
        if (previous) {
          this.log.info({ peer: id }, 'newer connection from peer replaces the old one');
          previous.close(CloseCode.Superseded, 'replaced by a newer connection');
        }
        this.inboundByPeer.set(id, c);
        this.links.get(id)?.redialNow();
      },
      onClosed: (c) => {
        this.inbound.delete(c);
        if (c.peerId !== undefined && this.inboundByPeer.get(c.peerId) === c) this.inboundByPeer.delete(c.peerId);
      },
    });
    this.inbound.add(conn);
  }
}

/** Why `url` cannot be dialled as a peer link, or undefined if it can. */
function urlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') return 'not a ws:// or wss:// URL';
  return undefined;
}
