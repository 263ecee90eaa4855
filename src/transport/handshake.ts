/**
 * Mutual challenge-response authentication of a peer link, and the close codes that say why
 * a link was refused.
 *
 *   server → ServerHello { serverNonce }
 *   client → ClientHello { clusterId, nodeId, clientNonce, proof = HMAC(secret, "client" · serverNonce · clusterId · nodeId) }
 *   server → Welcome     { serverNodeId, proof = HMAC(secret, "server" · clientNonce · clusterId · serverNodeId) }
 *
 * The cluster id is the one stored with the node's data (node/cluster-id.ts), or empty on a node
 * that joins with empty data and has not learned it yet. Two different ids refuse the link
 * (ClusterMismatch, naming both); a node without one adopts the id of the first authenticated
 * peer that dials it (learnClusterId). The Welcome's proof binds the id the client sent.
 *
 * Each side proves knowledge of the secret over a nonce the *other* side just chose, so
 * neither proof can be replayed. The role label keeps a client proof from ever being usable as
 * a server proof. Strings are length-prefixed inside the MAC so ("ab","c") ≠ ("a","bc").
 * The protocol version is the header byte of every frame (see codec.ts): a hello of another
 * version is refused with VersionMismatch and a reason naming both versions. Nodes of two
 * versions never link (version 2 added group tags; there is no translation between them).
 *
 * This authenticates the endpoints; it does not encrypt or sign each later frame. Against an
 * active man in the middle, run the links over a private network or TLS.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CodecError, CodecErrorReason, type Reader, strSize, Writer } from './bytes.ts';
import { FrameKind, newFrame, openFrame, PROTOCOL_VERSION } from './codec.ts';

export const NONCE_SIZE = 32;
export const PROOF_SIZE = 32;
/**
 * Largest frame either side accepts before the handshake completed. The handshake frames are
 * under 1 KiB unless the ids are absurd; a dialling link keeps this limit for good, since a
 * peer's server sends nothing after its welcome.
 */
export const HANDSHAKE_FRAME_LIMIT = 4 * 1024;

/** WebSocket close codes used by peer links (4000-4999 are private to the application). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** A text frame: peer links speak binary only. */
  UnsupportedData: 1003,
  /** Sent by ws itself when a frame exceeds maxPayload (before the handshake, maxPreAuthPayload). */
  MessageTooBig: 1009,
  /** A bug on our side while handling the peer's frame (logged with its stack). */
  InternalError: 1011,
  /** Too many connections are still authenticating: the peer should redial later. */
  TryAgainLater: 1013,
  /** Undecodable frame, unexpected frame kind, or a message claiming another sender. */
  ProtocolError: 4000,
  VersionMismatch: 4001,
  ClusterMismatch: 4002,
  UnknownPeer: 4003,
  AuthFailed: 4004,
  HandshakeTimeout: 4005,
  /** Raft traffic before the handshake completed. */
  NotAuthenticated: 4006,
  /** A newer connection from the same peer replaced this one. */
  Superseded: 4007,
  /**
   * The dialling node was removed from the cluster. Sent only after this side's Welcome (so the
   * dialler knows a real member says it), and acted on only by a node that still believes it is
   * a member (node/removal.ts).
   */
  Removed: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export class HandshakeError extends Error {
  override name = 'HandshakeError';
  constructor(
    readonly code: CloseCode,
    readonly reason: string,
    /** The node id the peer claimed, when the refusal is about it (for log rate-limiting). */
    readonly claimedId?: string,
  ) {
    super(`${reason} (close code ${code})`);
  }
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_SIZE);
}

const Role = { Client: 'raftkv-client', Server: 'raftkv-server' } as const;
type Role = (typeof Role)[keyof typeof Role];

function proof(role: Role, secret: string | Uint8Array, nonce: Uint8Array, clusterId: string, nodeId: string): Buffer {
  const w = new Writer(strSize(role) + NONCE_SIZE + strSize(clusterId) + strSize(nodeId));
  w.str(role);
  w.raw(nonce);
  w.str(clusterId);
  w.str(nodeId);
  return createHmac('sha256', secret).update(w.finish()).digest();
}

export function clientProof(secret: string | Uint8Array, serverNonce: Uint8Array, clusterId: string, nodeId: string) {
  return proof(Role.Client, secret, serverNonce, clusterId, nodeId);
}

export function serverProof(secret: string | Uint8Array, clientNonce: Uint8Array, clusterId: string, nodeId: string) {
  return proof(Role.Server, secret, clientNonce, clusterId, nodeId);
}

export function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(expected, got);
}

/** The close reason when the peer's frames carry protocol version `theirs`. */
export function versionMismatchReason(theirs: number): string {
  return `protocol version mismatch: peer speaks ${theirs}, this node ${PROTOCOL_VERSION}; mixed versions cannot link, upgrade every node`;
}

/** The frame kind of a received frame, with a handshake error if the header is wrong. */
function open(bytes: Uint8Array, kind: FrameKind, what: string): Reader {
  if (bytes.length > 0 && bytes[0] !== PROTOCOL_VERSION) {
    throw new HandshakeError(CloseCode.VersionMismatch, versionMismatchReason(bytes[0]));
  }
  try {
    const f = openFrame(bytes);
    if (f.kind !== kind) throw new CodecError(CodecErrorReason.BadType, `expected ${what}, got frame kind ${f.kind}`);
    return f.body;
  } catch (e) {
    throw asHandshakeError(e, what);
  }
}

function asHandshakeError(e: unknown, what: string): HandshakeError {
  if (e instanceof HandshakeError) return e;
  if (e instanceof CodecError && e.reason === CodecErrorReason.Version) {
    return new HandshakeError(CloseCode.VersionMismatch, `protocol version mismatch: ${e.message}`);
  }
  if (e instanceof CodecError) {
    return new HandshakeError(CloseCode.ProtocolError, `bad ${what}: ${e.message}`);
  }
  throw e;
}

function parse<T>(bytes: Uint8Array, kind: FrameKind, what: string, read: (r: Reader) => T): T {
  const r = open(bytes, kind, what);
  try {
    const value = read(r);
    r.done(what);
    return value;
  } catch (e) {
    throw asHandshakeError(e, what);
  }
}

export function encodeServerHello(nonce: Uint8Array): Buffer {
  const w = newFrame(FrameKind.ServerHello, NONCE_SIZE);
  w.raw(nonce);
  return w.finish();
}

export function decodeServerHello(bytes: Uint8Array): { nonce: Uint8Array } {
  return parse(bytes, FrameKind.ServerHello, 'server hello', (r) => ({ nonce: r.view(NONCE_SIZE, 'nonce') }));
}

export interface ClientHello {
  clusterId: string;
  nodeId: string;
  nonce: Uint8Array;
  proof: Uint8Array;
}

export function encodeClientHello(h: ClientHello): Buffer {
  const w = newFrame(FrameKind.ClientHello, strSize(h.clusterId) + strSize(h.nodeId) + NONCE_SIZE + PROOF_SIZE);
  w.str(h.clusterId);
  w.str(h.nodeId);
  w.raw(h.nonce);
  w.raw(h.proof);
  return w.finish();
}

export function decodeClientHello(bytes: Uint8Array): ClientHello {
  return parse(bytes, FrameKind.ClientHello, 'client hello', (r) => ({
    clusterId: r.str('cluster id'),
    nodeId: r.str('node id'),
    nonce: r.view(NONCE_SIZE, 'nonce'),
    proof: r.view(PROOF_SIZE, 'proof'),
  }));
}

export interface Welcome {
  nodeId: string;
  proof: Uint8Array;
}

export function encodeWelcome(h: Welcome): Buffer {
  const w = newFrame(FrameKind.Welcome, strSize(h.nodeId) + PROOF_SIZE);
  w.str(h.nodeId);
  w.raw(h.proof);
  return w.finish();
}

export function decodeWelcome(bytes: Uint8Array): Welcome {
  return parse(bytes, FrameKind.Welcome, 'welcome', (r) => ({
    nodeId: r.str('node id'),
    proof: r.view(PROOF_SIZE, 'proof'),
  }));
}

export interface ServerIdentity {
  /** This node's cluster id; '' while it has none (joining with empty data). */
  clusterId: string;
  nodeId: string;
  secret: string | Uint8Array;
  isAllowedPeer: (id: string) => boolean;
  /**
   * An authenticated peer presented `clusterId` while this node has none: the node adopts it.
   * May throw a HandshakeError to refuse the link (an id the node cannot store).
   */
  learnClusterId?: (clusterId: string, peerId: string) => void;
  /** Whether `id`, not an allowed peer, is a member this node saw removed (told with CloseCode.Removed). */
  wasRemoved?: (id: string) => boolean;
}

/** The close reason that tells a removed member so. */
export const removedReason = (nodeId: string) => `member ${nodeId} was removed from the cluster`;

/** The refusal when two nodes' data belong to different clusters; both ids, as etcd's error. */
export function clusterMismatchReason(server: { nodeId: string; clusterId: string }, client: { nodeId: string; clusterId: string }): string {
  return `cluster ID mismatch: ${server.nodeId} is in cluster ${server.clusterId}, ${client.nodeId} in cluster ${client.clusterId}`;
}

/**
 * Checks a client hello against the server's identity; returns the Welcome frame to send, or
 * throws a HandshakeError naming the close code. Checks run cheapest-first; the MAC comparison
 * is constant-time.
 */
export function acceptClient(
  server: ServerIdentity,
  serverNonce: Uint8Array,
  bytes: Uint8Array,
): {
  peerId: string;
  welcome: Buffer;
  /** The peer is a removed member: send the welcome, then close with CloseCode.Removed. */
  removed?: true;
} {
  const hello = decodeClientHello(bytes);
  if (hello.clusterId !== '' && server.clusterId !== '' && hello.clusterId !== server.clusterId) {
    throw new HandshakeError(CloseCode.ClusterMismatch, clusterMismatchReason(server, hello), hello.nodeId);
  }
  const removed = hello.nodeId !== server.nodeId && !server.isAllowedPeer(hello.nodeId) && server.wasRemoved?.(hello.nodeId) === true;
  if (hello.nodeId === server.nodeId || (!removed && !server.isAllowedPeer(hello.nodeId))) {
    throw new HandshakeError(CloseCode.UnknownPeer, `node "${hello.nodeId}" is not an allowed peer`, hello.nodeId);
  }
  if (!proofMatches(clientProof(server.secret, serverNonce, hello.clusterId, hello.nodeId), hello.proof)) {
    throw new HandshakeError(CloseCode.AuthFailed, `node "${hello.nodeId}" failed authentication`);
  }
  const welcome = encodeWelcome({
    nodeId: server.nodeId,
    proof: serverProof(server.secret, hello.nonce, hello.clusterId, server.nodeId),
  });
  if (removed) return { peerId: hello.nodeId, welcome, removed };
  if (server.clusterId === '' && hello.clusterId !== '') server.learnClusterId?.(hello.clusterId, hello.nodeId);
  return { peerId: hello.nodeId, welcome };
}

/** Checks the server's Welcome: it must be the node we meant to reach, and know the secret. */
export function verifyServer(
  client: { clusterId: string; secret: string | Uint8Array },
  expectedPeer: string,
  clientNonce: Uint8Array,
  bytes: Uint8Array,
): void {
  const w = decodeWelcome(bytes);
  if (w.nodeId !== expectedPeer) {
    throw new HandshakeError(CloseCode.UnknownPeer, `reached node "${w.nodeId}", expected "${expectedPeer}"`);
  }
  if (!proofMatches(serverProof(client.secret, clientNonce, client.clusterId, w.nodeId), w.proof)) {
    throw new HandshakeError(CloseCode.AuthFailed, `node "${w.nodeId}" failed authentication`);
  }
}
