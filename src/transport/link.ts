/**
 * One outbound link: this node dials one peer, authenticates it, and streams Raft messages to
 * it, of every group the two nodes share. Links only ever send; the peer's messages arrive on
 * its own outbound link to us.
 *
 * What waits for the socket, and when it is written, is the link's Outbox (outbox.ts): this
 * file holds the connection (dial, client side of the handshake, keep-alive, redial with
 * backoff, and the one WARN of a peer that stays down).
 */
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Message, NodeId } from '../raft/types.ts';
import type { Backoff } from './backoff.ts';
import { encodeForward, HEADER_SIZE } from './codec.ts';
import { type GroupId, GroupIds } from './groups.ts';
import { CloseCode, clientProof, decodeServerHello, encodeClientHello, HANDSHAKE_FRAME_LIMIT, HandshakeError, newNonce, verifyServer } from './handshake.ts';
import { Outbox } from './outbox.ts';
import { closeSocket, frameBytes, keepAlive } from './socket.ts';

export const LinkState = { Connected: 'connected', Connecting: 'connecting', Down: 'down' } as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

export interface LinkStats {
  state: LinkState;
  /** Messages handed to the socket. */
  sent: number;
  /** Messages dropped: link not connected, queue full, too large, or lost when the link fell. */
  dropped: number;
  queuedBytes: number;
  queuedMessages: number;
  /** Bytes written to the socket that the kernel has not taken yet. */
  bufferedBytes: number;
  /** Snapshot data not yet written: the transfer in flight and those of other groups waiting behind it. */
  snapshotPendingBytes: number;
  /** Coalesced Heartbeats frames written, and the heartbeats they carried (counted in `sent` too). */
  heartbeatFrames: number;
  heartbeatsCoalesced: number;
  /** Frame bytes handed to the socket since the link was made (WebSocket payloads; no pings, no TCP/IP headers). */
  sentBytes: number;
  /** Frames handed to the socket since the link was made (batches, heartbeats, snapshot chunks). */
  frames: number;
  /** Messages left out because a later queued message of their group covered them (supersede.ts). */
  superseded: number;
}

export interface LinkLimits {
  maxQueueBytes: number;
  maxQueueMessages: number;
  maxBufferedBytes: number;
  maxBatchBytes: number;
  maxPayload: number;
  snapshotChunkBytes: number;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  /** A peer unreachable this long is one WARN (and one INFO when it is back): the node's election timeout. */
  peerDownWarnMs: number;
}

/**
 * A wss:// link's client side: the certificate this node presents (the server's peer route may
 * demand it) and the CA the server's certificate must chain to. Host names and IP literals are
 * checked against the certificate's subjectAltName as https does.
 */
export interface LinkTls {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export interface LinkOptions {
  self: NodeId;
  peer: NodeId;
  url: string;
  clusterId: string;
  secret: string | Uint8Array;
  /** For wss:// URLs; without it a wss:// link trusts node's default CAs and presents nothing. */
  tls?: LinkTls;
  limits: LinkLimits;
  /** Send heartbeats as coalesced Heartbeats frames (false: in the batches, as version 1 did). */
  coalesceHeartbeats: boolean;
  backoff: Backoff;
  logger: Logger;
  /** A message could not be delivered (the runtime reports the peer unreachable). */
  onUnreachable: (peer: NodeId) => void;
  /** A Snap message of `group` was fully written (true) or lost (false). */
  onSnapshotStatus: (group: GroupId, peer: NodeId, ok: boolean) => void;
  /** A keep-alive ping was answered after `ms` (the peer round-trip metric). */
  onRtt?: (peer: NodeId, ms: number) => void;
  /** The link was up and went down: what was sent on it may or may not have arrived. */
  onDown?: (peer: NodeId) => void;
  /** The peer, having proved itself, closed the link because this node was removed (CloseCode.Removed). */
  onRemoved?: (peer: NodeId) => void;
}

/** Close codes with which a peer refuses us because of configuration, worth a warning. */
const REFUSALS: ReadonlySet<number> = new Set([
  CloseCode.VersionMismatch,
  CloseCode.ClusterMismatch,
  CloseCode.UnknownPeer,
  CloseCode.AuthFailed,
  CloseCode.ProtocolError,
  CloseCode.UnsupportedData,
  CloseCode.MessageTooBig,
]);

/** Masking protects browsers' proxies, not node-to-node links; a zero mask lets ws skip it. */
const zeroMask = (mask: Buffer) => {
  mask.fill(0);
};

/** How long a link that was never up may stay down before its WARN (see startDownClock). */
const START_GRACE_MS = 10_000;

/** Room for the Snap message around a snapshot chunk and for the batch header. */
export const FRAME_OVERHEAD = 16 * 1024;

export class PeerLink {
  private ws: WebSocket | undefined;
  private state: LinkState = LinkState.Down;
  private url: string;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopHandshake: (() => void) | undefined;
  private stopKeepAlive: (() => void) | undefined;

  /** A refusal by the peer was already logged at warn since the link was last up. */
  private refusalLogged = false;
  /** Since when the link has not been up (it starts down), and the timer of its one WARN. */
  private downSince = 0;
  private downTimer: NodeJS.Timeout | undefined;
  private downWarned = false;
  /** Peers of a new cluster start within seconds of each other: no WARN before the first link up. */
  private everUp = false;

  private readonly outbox: Outbox;
  private readonly log: Logger;
  private readonly limits: LinkLimits;

  constructor(private readonly opts: LinkOptions) {
    this.url = opts.url;
    this.limits = opts.limits;
    this.log = opts.logger.child({ peer: opts.peer });
    this.outbox = new Outbox(opts.limits, opts.coalesceHeartbeats, this.log, {
      socket: () => (this.state === LinkState.Connected ? this.ws : undefined),
      closed: () => this.closed,
      onSnapshotStatus: (group, ok) => opts.onSnapshotStatus(group, opts.peer, ok),
    });
    this.startDownClock();
    this.dial();
  }

  /** Points the link at a new address: the current connection is replaced at once. */
  setUrl(url: string): void {
    if (url === this.url) return;
    this.url = url;
    this.log.info({ url }, 'peer address changed, redialling');
    this.opts.backoff.reset();
    this.teardown(CloseCode.GoingAway, 'peer address changed');
    clearTimeout(this.reconnectTimer);
    this.dial();
  }

  /**
   * The peer just dialled us and authenticated, so it is up and knows us: if this link is
   * waiting to redial, dial now. A node being added as a learner is refused (UnknownPeer) until
   * the leader has applied its addition, and would otherwise sit out its backoff (up to
   * maxMs) before it could answer the leader that is already replicating to it.
   */
  redialNow(): void {
    if (this.closed || this.state !== LinkState.Down || !this.reconnectTimer) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.opts.backoff.reset();
    this.log.debug('peer dialled us; redialling it now');
    this.dial();
  }

  /**
   * Queues `m` of `group` for the peer; false when it was dropped. Ownership passes to the
   * link: the message is encoded when its frame is written, so it must not be mutated afterwards.
   */
  send(m: Message, group: GroupId = GroupIds.Default): boolean {
    return this.outbox.send(m, group);
  }

  /**
   * Writes a Forward frame (the follower proxy) at once, beside the Raft batches; false when it
   * was not sent: link not up, frame over maxPayload, or, unless `always`, the socket already
   * holding `budget` bytes (the proxy then waits or answers TRYAGAIN; it never queues here).
   * `always` is for the leader's replies, which the follower's own budget bounds.
   */
  sendForward(body: Uint8Array, budget: number, always: boolean): boolean {
    const ws = this.ws;
    if (!ws || this.state !== LinkState.Connected) return false;
    if (HEADER_SIZE + body.length > this.limits.maxPayload) return false;
    if (!always && ws.bufferedAmount + body.length > budget) return false;
    ws.send(encodeForward(body));
    return true;
  }

  stats(): LinkStats {
    return { state: this.state, bufferedBytes: this.ws?.bufferedAmount ?? 0, ...this.outbox.stats() };
  }

  /** Stops the link for good; resolves once its socket is closed. */
  close(code: CloseCode, reason: string): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.outbox.stop();
    clearTimeout(this.downTimer);
    const ws = this.ws;
    this.teardown(code, reason);
    if (!ws || ws.readyState === ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => ws.once('close', () => resolve()));
  }

  private dial(): void {
    this.state = LinkState.Connecting;
    const { limits } = this;
    const ws = new WebSocket(this.url, {
      // Only the server hello and welcome ever come this way: a hostile or impostor server
      // cannot make this node buffer a large frame.
      maxPayload: HANDSHAKE_FRAME_LIMIT,
      perMessageDeflate: false,
      generateMask: zeroMask,
      handshakeTimeout: limits.handshakeTimeoutMs,
      ...(this.opts.tls ?? {}),
    });
    this.ws = ws;
    const clientNonce = newNonce();
    let phase: 'hello' | 'welcome' | 'open' = 'hello';

    const timer = setTimeout(() => {
      this.log.warn({ url: this.url, phase }, 'peer handshake timed out');
      closeSocket(ws, CloseCode.HandshakeTimeout, 'handshake timed out');
    }, limits.handshakeTimeoutMs);
    timer.unref();
    this.stopHandshake = () => clearTimeout(timer);

    ws.on('message', (data, isBinary) => {
      if (ws !== this.ws) return;
      if (!isBinary) {
        this.log.warn('peer sent a text frame');
        closeSocket(ws, CloseCode.UnsupportedData, 'binary frames only');
        return;
      }
      const bytes = frameBytes(data);
      try {
        if (phase === 'hello') {
          const { nonce } = decodeServerHello(bytes);
          const { clusterId, self, secret } = this.opts;
          const proof = clientProof(secret, nonce, clusterId, self);
          ws.send(encodeClientHello({ clusterId, nodeId: self, nonce: clientNonce, proof }));
          phase = 'welcome';
        } else if (phase === 'welcome') {
          verifyServer(this.opts, this.opts.peer, clientNonce, bytes);
          phase = 'open';
          this.onOpen(ws);
        } else {
          throw new HandshakeError(CloseCode.ProtocolError, 'a peer server sends nothing after its welcome');
        }
      } catch (e) {
        if (e instanceof HandshakeError) {
          this.log.warn({ url: this.url, code: e.code, reason: e.reason }, 'peer failed the handshake');
          closeSocket(ws, e.code, e.reason);
        } else {
          // A bug of ours: it costs this connection (we redial), never the process.
          this.log.error({ err: e }, 'internal error during the peer handshake');
          closeSocket(ws, CloseCode.InternalError, 'internal error');
        }
      }
    });
    ws.on('error', (err) => {
      // Debug only: peers starting at different moments refuse each other at every start. A
      // peer that stays unreachable is the one WARN of startDownClock.
      this.log.debug({ url: this.url, err: err.message }, 'peer socket error');
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onOpen(ws: WebSocket): void {
    this.stopHandshake?.();
    this.state = LinkState.Connected;
    this.opts.backoff.reset();
    this.refusalLogged = false;
    this.everUp = true;
    clearTimeout(this.downTimer);
    this.downTimer = undefined;
    if (this.downWarned) this.log.info({ url: this.url, downMs: Date.now() - this.downSince }, 'peer reachable again');
    this.downWarned = false;
    this.stopKeepAlive = keepAlive(
      ws,
      this.limits.pingIntervalMs,
      () => {
        this.log.warn('peer stopped answering pings');
        ws.terminate();
      },
      (ms) => this.opts.onRtt?.(this.opts.peer, ms),
    );
    this.log.debug({ url: this.url }, 'peer link up');
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    const wasConnected = this.state === LinkState.Connected;
    this.release();
    // Only after the peer's Welcome: anyone can send a close code before it.
    if (code === CloseCode.Removed && wasConnected) this.opts.onRemoved?.(this.opts.peer);
    if (REFUSALS.has(code) || code === CloseCode.Removed) {
      // Once per streak at warn: a node waiting to be added is refused on every redial.
      this.log[this.refusalLogged ? 'debug' : 'warn']({ url: this.url, code, reason }, 'peer refused the link');
      this.refusalLogged = true;
    } else if (wasConnected) {
      this.log.debug({ url: this.url, code, reason }, 'peer link down');
    }
    if (this.closed) return;
    if (wasConnected) {
      this.startDownClock();
      this.opts.onUnreachable(this.opts.peer);
      this.opts.onDown?.(this.opts.peer);
    }
    const delay = this.opts.backoff.next();
    this.log.debug({ delayMs: Math.round(delay) }, 'redialling peer');
    this.reconnectTimer = setTimeout(() => this.dial(), delay);
    this.reconnectTimer.unref();
  }

  /**
   * The link just went down (or starts down): if it is still not up after peerDownWarnMs, one
   * WARN says so; onOpen says when it is back. A blip shorter than an election timeout stays at
   * debug, and so do the refusals while a cluster starts: a link never up yet waits
   * START_GRACE_MS, as the peers of a new cluster start seconds apart on a busy machine.
   */
  private startDownClock(): void {
    this.downSince = Date.now();
    clearTimeout(this.downTimer);
    const after = this.everUp ? this.limits.peerDownWarnMs : Math.max(this.limits.peerDownWarnMs, START_GRACE_MS);
    this.downTimer = setTimeout(() => {
      if (this.closed || this.state === LinkState.Connected) return;
      this.downWarned = true;
      this.log.warn({ url: this.url, downMs: Date.now() - this.downSince }, `peer unreachable for more than ${after} ms`);
    }, after);
    this.downTimer.unref();
  }

  /** Forgets the current socket and everything tied to it. */
  private release(): void {
    this.stopHandshake?.();
    this.stopKeepAlive?.();
    this.stopHandshake = undefined;
    this.stopKeepAlive = undefined;
    this.ws = undefined;
    this.state = LinkState.Down;
    this.outbox.discard();
  }

  private teardown(code: CloseCode, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.release();
    closeSocket(ws, code, reason);
  }
}
