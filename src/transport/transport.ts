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
 * Those limits and their defaults are limits.ts; who may still be authenticating, admission.ts.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { type Message, MessageType, type NodeId } from '../raft/types.ts';
import { Admission } from './admission.ts';
import { Backoff, checkBackoff } from './backoff.ts';
import { type GroupEndpoint, type GroupHandlers, type GroupId, GroupIds, GroupTable } from './groups.ts';
import { CloseCode, removedReason } from './handshake.ts';
import { InboundConnection } from './inbound.ts';
import { type LimitOptions, resolveLimits, TRANSPORT_DEFAULTS, TransportConfigError } from './limits.ts';
import { type LinkLimits, type LinkStats, type LinkTls, PeerLink } from './link.ts';
import { SnapshotSlots } from './snapshot-chunks.ts';
import { closeSocket, PEER_PATH } from './socket.ts';

export interface Peer {
  id: NodeId;
  /** ws://host:port/raft/v1 (or wss://). */
  url: string;
}

export interface TransportOptions extends LimitOptions {
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
  snapshotTimeoutMs?: number;
  backoff?: { minMs: number; maxMs: number };
  /** Uniform in [0, 1), for backoff jitter. */
  random?: () => number;
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
  private readonly admission: Admission;
  private closed = false;
  /** Authenticated inbound connections closed for breaking the protocol (see inboundStats). */
  private protocolErrors = 0;
  /** Presented in every handshake; set once on a joining node (learnClusterId), never changed. */
  clusterId: string;

  constructor(private readonly opts: TransportOptions) {
    this.clusterId = opts.clusterId;
    const { limits, admission, snapshotTransfers } = resolveLimits(opts);
    this.limits = limits;
    this.admission = new Admission(admission, opts.logger);
    this.snapshotSlots = new SnapshotSlots(snapshotTransfers);
    if (opts.secret.length === 0) throw new TransportConfigError('the cluster secret must not be empty');
    if (!opts.nodeId) throw new TransportConfigError('nodeId must not be empty');
    checkBackoff(opts.backoff ?? TRANSPORT_DEFAULTS.backoff);
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

  /** Authenticated peers' connections closed for an undecodable or out-of-place frame (a frame over a cap, say). */
  inboundStats(): { protocolErrors: number } {
    return { protocolErrors: this.protocolErrors };
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
      options: { maxPayload: this.admission.limits.preAuthPayload, perMessageDeflate: false },
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
          const busy = this.admission.refusal(this.inbound, req.socket.remoteAddress ?? '?');
          if (busy) {
            this.log.debug({ remote: req.socket.remoteAddress, busy }, 'peer upgrade refused');
            await reply.code(503).header('retry-after', '1').send({ error: busy });
          }
        },
      },
      (socket, req) => this.accept(socket, req.socket.remoteAddress ?? '?'),
    );
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
    const busy = this.admission.refusal(this.inbound, remote);
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
      firstUnknownPeer: (id) => this.admission.firstUnknownPeer(id),
      snapshotTimeoutMs: opts.snapshotTimeoutMs ?? TRANSPORT_DEFAULTS.snapshotTimeoutMs,
      hosts: (g) => this.groups.hosts(g),
      unhosted: (g, from) => this.groups.dropUnhosted(g, from),
      deliver: (g, m) => this.groups.deliver(g, m),
      deliverForward: (from, body) => this.onForward?.(from, body),
      onProtocolError: () => {
        this.protocolErrors++;
      },
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
