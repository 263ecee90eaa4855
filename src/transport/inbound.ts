/**
 * The server end of a peer link: authenticates the dialling peer, then decodes and delivers
 * its Raft messages, each to its group (a group this node does not host gets nothing: its
 * messages are counted and dropped, see groups.ts). Anything a peer can send (garbage, text,
 * wrong frame kinds, traffic before authentication, messages claiming another sender) ends in
 * a logged close with a distinct code, never an exception escaping into the process.
 *
 * Until the peer has authenticated, ws refuses any frame over maxPreAuthPayload (a few KiB:
 * the handshake frames are under 1 KiB) as soon as it has read the frame's header, so an
 * unauthenticated connection never makes this node buffer more than that; see raisePayloadLimit.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Message, NodeId } from '../raft/types.ts';
import { CodecError } from './bytes.ts';
import { FrameKind, type GroupBatch, openFrame, PROTOCOL_VERSION, readBatch, readSnapBegin, readSnapChunk } from './codec.ts';
import type { GroupId } from './groups.ts';
import { acceptClient, CloseCode, encodeServerHello, HandshakeError, newNonce, removedReason, type ServerIdentity } from './handshake.ts';
import { readHeartbeats } from './heartbeats.ts';
import { SnapshotAssembler, type SnapshotSlots, SnapshotTransferError } from './snapshot-chunks.ts';
import { closeSocket, frameBytes, keepAlive } from './socket.ts';

export interface InboundOptions extends ServerIdentity {
  logger: Logger;
  handshakeTimeoutMs: number;
  pingIntervalMs: number;
  /** Largest frame once authenticated (the socket starts with the pre-auth limit). */
  maxPayload: number;
  maxSnapshotBytes: number;
  snapshotTimeoutMs: number;
  /** Incoming snapshot transfers, shared by all of the node's connections. */
  snapshotSlots: SnapshotSlots;
  /**
   * Whether a refusal of the node id `claimedId` as an unknown peer is the first of its kind
   * (logged at warn; later ones at debug, so a removed node that keeps dialling logs once).
   */
  firstUnknownPeer: (claimedId: string) => boolean;
  /** Whether this node hosts `group`; what arrives for any other goes to `unhosted` instead. */
  hosts: (group: GroupId) => boolean;
  /** A message (or snapshot transfer) from `from` for a group this node does not host was dropped. */
  unhosted: (group: GroupId, from: NodeId) => void;
  deliver: (group: GroupId, m: Message) => void;
  /** The body of a Forward frame from the authenticated peer `from` (the follower proxy). */
  deliverForward: (from: NodeId, body: Uint8Array) => void;
  /** The authenticated peer broke the protocol (an undecodable or out-of-place frame): its link is closed. */
  onProtocolError: (conn: InboundConnection) => void;
  /** The peer authenticated as `peerId`. */
  onAuthenticated: (conn: InboundConnection) => void;
  onClosed: (conn: InboundConnection) => void;
}

const DATA_KINDS: ReadonlySet<number> = new Set([FrameKind.Batch, FrameKind.Heartbeats, FrameKind.SnapBegin, FrameKind.SnapChunk, FrameKind.Forward]);

/** Raised for a well-formed frame that breaks the link protocol. */
class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
}

export class InboundConnection {
  /** Set once the peer has authenticated. */
  peerId: NodeId | undefined;
  private readonly nonce = newNonce();
  private readonly assembler: SnapshotAssembler;
  private stopHandshake: (() => void) | undefined;
  private stopKeepAlive: (() => void) | undefined;
  private log: Logger;
  private closing = false;

  constructor(
    private readonly ws: WebSocket,
    readonly remote: string,
    private readonly opts: InboundOptions,
  ) {
    this.log = opts.logger.child({ remote });
    this.assembler = new SnapshotAssembler({
      maxBytes: opts.maxSnapshotBytes,
      slots: opts.snapshotSlots,
      timeoutMs: opts.snapshotTimeoutMs,
      onDrop: (transfer, reason) => this.log.warn({ transfer, reason }, 'incoming snapshot transfer dropped'),
    });
    const timer = setTimeout(() => this.refuse(CloseCode.HandshakeTimeout, 'handshake timed out'), opts.handshakeTimeoutMs);
    timer.unref();
    this.stopHandshake = () => clearTimeout(timer);
    ws.on('message', (data, isBinary) => this.onFrame(frameBytes(data), isBinary));
    // ws reports frames it cannot parse (oversized, bad opcodes) here, after sending the
    // matching close frame (1009, 1002). It would then read and discard whatever else the peer
    // sends until the closing handshake ends (up to 30 s): for a peer that has not even
    // authenticated, cut the connection now instead, so a flood costs no reads at all.
    ws.on('error', (err) => {
      this.log.warn({ err: err.message, peer: this.peerId }, 'peer connection error');
      if (this.peerId === undefined) ws.terminate();
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    ws.send(encodeServerHello(this.nonce));
  }

  /** Closes the connection with `code`; logged by the caller. */
  close(code: CloseCode, reason: string): void {
    this.closing = true;
    closeSocket(this.ws, code, reason);
  }

  /** Resolves once the socket is closed. */
  closed(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once('close', () => resolve()));
  }

  private refuse(code: CloseCode, reason: string, claimedId?: string): void {
    if (this.closing) return;
    // A node of another cluster redials as patiently as an unknown one: one warning per id.
    const repeated = claimedId !== undefined && !this.opts.firstUnknownPeer(code === CloseCode.UnknownPeer ? claimedId : `${claimedId} (${code})`);
    const quiet = (code === CloseCode.UnknownPeer || code === CloseCode.ClusterMismatch) && repeated;
    this.log[quiet ? 'debug' : 'warn']({ code, reason, peer: this.peerId }, 'peer connection refused');
    this.close(code, reason);
  }

  private onFrame(bytes: Uint8Array, isBinary: boolean): void {
    if (this.closing) return;
    if (!isBinary) {
      this.refuse(CloseCode.UnsupportedData, 'binary frames only');
      return;
    }
    try {
      if (this.peerId === undefined) this.onHandshakeFrame(bytes);
      else this.onDataFrame(bytes);
    } catch (e) {
      if (e instanceof HandshakeError) {
        this.refuse(e.code, e.reason, e.claimedId);
      } else if (e instanceof CodecError || e instanceof ProtocolViolation || e instanceof SnapshotTransferError) {
        if (this.peerId !== undefined && !this.closing) this.opts.onProtocolError(this);
        this.refuse(CloseCode.ProtocolError, e instanceof CodecError ? `undecodable frame: ${e.message}` : e.message);
      } else {
        // A bug of ours: it costs this connection (the peer redials), never the process.
        this.log.error({ err: e, peer: this.peerId }, 'internal error handling a peer frame');
        this.close(CloseCode.InternalError, 'internal error');
      }
    }
  }

  private onHandshakeFrame(bytes: Uint8Array): void {
    if (bytes.length >= 2 && bytes[0] === PROTOCOL_VERSION && DATA_KINDS.has(bytes[1])) {
      this.refuse(CloseCode.NotAuthenticated, 'raft traffic before the handshake');
      return;
    }
    const { peerId, welcome, removed } = acceptClient(this.opts, this.nonce, bytes);
    this.stopHandshake?.();
    if (removed) {
      // The welcome first: it proves to the removed node that a member of its cluster says so.
      this.ws.send(welcome);
      const quiet = !this.opts.firstUnknownPeer(`${peerId} (${CloseCode.Removed})`);
      this.log[quiet ? 'debug' : 'info']({ peer: peerId }, 'told a removed member it was removed');
      this.close(CloseCode.Removed, removedReason(peerId));
      return;
    }
    // Before the welcome: the peer sends nothing large until it has read it.
    raisePayloadLimit(this.ws, this.opts.maxPayload);
    this.peerId = peerId;
    this.log = this.log.child({ peer: peerId });
    this.ws.send(welcome);
    this.stopKeepAlive = keepAlive(this.ws, this.opts.pingIntervalMs, () => {
      this.log.warn('peer stopped answering pings');
      this.ws.terminate();
    });
    this.log.debug('peer authenticated');
    this.opts.onAuthenticated(this);
  }

  private onDataFrame(bytes: Uint8Array): void {
    const { kind, body } = openFrame(bytes);
    switch (kind) {
      case FrameKind.Batch: {
        const batch = readBatch(body);
        // Check the whole batch first, so a spoofed message delivers none of its batch.
        for (const m of batch.messages) this.checkAddress(m);
        this.deliverAll(batch);
        return;
      }
      case FrameKind.Heartbeats:
        // The link's two ends are the only sender and receiver a coalesced entry can have.
        this.deliverAll(readHeartbeats(body, this.peerId as NodeId, this.opts.nodeId));
        return;
      case FrameKind.SnapBegin: {
        const begin = readSnapBegin(body);
        this.checkAddress(begin.message);
        if (!this.opts.hosts(begin.group)) {
          // Refused before any memory is set aside; its chunks then match no transfer.
          this.opts.unhosted(begin.group, this.peerId as NodeId);
          return;
        }
        this.log.info({ transfer: begin.transferId, group: begin.group, bytes: begin.totalBytes }, 'receiving snapshot');
        this.assembler.begin(begin);
        return;
      }
      case FrameKind.SnapChunk: {
        const done = this.assembler.chunk(readSnapChunk(body));
        if (done) {
          const m = done.message;
          this.log.info({ group: done.group, bytes: m.snapshot?.data.length, index: m.snapshot?.meta.index }, 'snapshot received');
          this.deliver(done.group, m);
        }
        return;
      }
      case FrameKind.Forward: {
        const from = this.peerId as NodeId;
        const payload = body.view(body.remaining, 'forward body');
        try {
          this.opts.deliverForward(from, payload);
        } catch (err) {
          // As for Raft messages: the receiver's failure costs the frame, not the link.
          this.log.error({ err }, 'forward handler threw');
        }
        return;
      }
      default:
        throw new ProtocolViolation(`unexpected frame kind ${kind} after the handshake`);
    }
  }

  private checkAddress(m: Message): void {
    if (m.from !== this.peerId || m.to !== this.opts.nodeId) {
      throw new ProtocolViolation(`message ${m.from}→${m.to} on the link of ${this.peerId}→${this.opts.nodeId}`);
    }
  }

  private deliverAll(batch: GroupBatch): void {
    const { groups, messages } = batch;
    for (let i = 0; i < messages.length; i++) this.deliver(groups[i], messages[i]);
  }

  private deliver(group: GroupId, m: Message): void {
    if (!this.opts.hosts(group)) {
      this.opts.unhosted(group, m.from);
      return;
    }
    try {
      this.opts.deliver(group, m);
    } catch (err) {
      // The core rejecting one message must not take the link (or the process) down.
      this.log.error({ err, type: m.type, group }, 'onMessage threw');
    }
  }

  private onClose(code: number, reason: string): void {
    this.closing = true;
    this.stopHandshake?.();
    this.stopKeepAlive?.();
    this.assembler.dispose();
    if (this.peerId !== undefined) this.log.debug({ code, reason }, 'peer connection closed');
    this.opts.onClosed(this);
  }
}

/**
 * Lets an authenticated peer's socket take frames up to `maxPayload`. ws has no public setter:
 * its server applies one maxPayload (here the pre-auth limit) to every socket's Receiver, which
 * compares each frame's declared length with `_maxPayload` when it reads the frame header
 * (Receiver#haveLength), before buffering any payload. The Receiver reads the field afresh for
 * every frame, so raising it between frames is safe, and this runs inside the 'message' event
 * of the client hello, before the next header is parsed; the peer sends nothing more until it
 * has our welcome anyway. Should a ws upgrade rename the field, this throws (the connection
 * closes with InternalError, logged) rather than leave links silently stuck at the small
 * limit: it fails closed, and the transport tests say so at once.
 */
function raisePayloadLimit(ws: WebSocket, maxPayload: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') {
    throw new Error('ws internals changed: cannot raise the payload limit of an authenticated peer socket');
  }
  receiver._maxPayload = maxPayload;
}
