/**
 * The transport's limits: their defaults, and their resolution and validation at construction.
 * Every bound a peer link or an unauthenticated party is held to is here in one table, so that
 * what a slow peer or a stranger can cost is read off one place (see transport.ts), and a
 * limit that cannot work together with another (a snapshot chunk that would not fit a frame)
 * is refused when the node starts rather than when the first snapshot is sent.
 */
import type { AdmissionLimits } from './admission.ts';
import { HANDSHAKE_FRAME_LIMIT } from './handshake.ts';
import { FRAME_OVERHEAD, type LinkLimits } from './link.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

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

export class TransportConfigError extends Error {
  override name = 'TransportConfigError';
}

/** The limits a caller may set (TransportOptions); each omitted one takes its default. */
export interface LimitOptions extends Partial<LinkLimits> {
  maxPreAuthPayload?: number;
  maxUnauthenticated?: number;
  maxUnauthenticatedPerAddress?: number;
  maxSnapshotTransfers?: number;
}

export interface ResolvedLimits {
  limits: LinkLimits;
  admission: AdmissionLimits;
  snapshotTransfers: number;
}

/** `opts`' limits with defaults filled in; throws TransportConfigError for one that cannot work. */
export function resolveLimits(opts: LimitOptions): ResolvedLimits {
  const d = TRANSPORT_DEFAULTS;
  const limits: LinkLimits = {
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
  for (const [name, v] of Object.entries(limits)) {
    if (!(Number.isSafeInteger(v) && v > 0)) throw new TransportConfigError(`${name} must be a positive integer`);
  }
  if (limits.snapshotChunkBytes + FRAME_OVERHEAD > limits.maxPayload) {
    throw new TransportConfigError('snapshotChunkBytes must leave 16 KiB of room under maxPayload');
  }
  if (limits.maxBatchBytes > limits.maxPayload) {
    throw new TransportConfigError('maxBatchBytes must not exceed maxPayload');
  }
  const admission: AdmissionLimits = {
    preAuthPayload: opts.maxPreAuthPayload ?? d.maxPreAuthPayload,
    total: opts.maxUnauthenticated ?? d.maxUnauthenticated,
    perAddress: opts.maxUnauthenticatedPerAddress ?? d.maxUnauthenticatedPerAddress,
  };
  for (const [name, v] of Object.entries(admission)) {
    if (!(Number.isSafeInteger(v) && v > 0)) throw new TransportConfigError(`${name} must be a positive integer`);
  }
  if (admission.preAuthPayload > limits.maxPayload) {
    throw new TransportConfigError('maxPreAuthPayload must not exceed maxPayload');
  }
  const snapshotTransfers = opts.maxSnapshotTransfers ?? d.maxSnapshotTransfers;
  if (!(Number.isSafeInteger(snapshotTransfers) && snapshotTransfers > 0)) {
    throw new TransportConfigError('maxSnapshotTransfers must be a positive integer');
  }
  return { limits, admission, snapshotTransfers };
}
