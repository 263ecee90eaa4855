/**
 * The data types of the consensus core: log entries, messages, hard state, snapshots and the
 * Ready batch. Everything here is plain data so that the runtime can persist it and the
 * transport can encode it without knowing how the core works.
 *
 * Node ids are short strings ("n1"). The empty string means "nobody" (no vote, no leader).
 */

export type NodeId = string;
export const NONE: NodeId = '';

export const EntryType = {
  /** An application command (or an empty no-op when `data` is empty). */
  Normal: 0,
  /** `data` is an encoded ConfChange (see conf-change.ts). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before any message of the same Ready leaves the node. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** Opaque state-machine image; the runtime may stream it in chunks. */
  data: Uint8Array;
}

export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/**
 * Message types. "Local" types never cross the network: the core steps them into itself
 * (Hup, Beat, Prop from a leader's own node) or the runtime reports them (SnapStatus,
 * Unreachable).
 */
export const MessageType = {
  Hup: 'hup', // local: start an election
  Beat: 'beat', // local: leader sends heartbeats
  Prop: 'prop', // local: a proposal on the leader (never forwarded; RawNode.step drops it)
  App: 'app',
  AppResp: 'app-resp',
  Vote: 'vote',
  VoteResp: 'vote-resp',
  PreVote: 'pre-vote',
  PreVoteResp: 'pre-vote-resp',
  Snap: 'snap',
  Heartbeat: 'heartbeat',
  HeartbeatResp: 'heartbeat-resp',
  Unreachable: 'unreachable', // local
  SnapStatus: 'snap-status', // local
  CheckQuorum: 'check-quorum', // local
  TransferLeader: 'transfer-leader',
  TimeoutNow: 'timeout-now',
  ReadIndex: 'read-index',
  ReadIndexResp: 'read-index-resp',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** App: term of the entry at `index`. AppResp reject: term of the follower's entry at rejectHint. */
  logTerm: number;
  /** App: index preceding `entries`. AppResp: last index matched (or rejected index). Vote: candidate's last index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppResp reject: the follower's guess of the last index that may match (fast backtracking). */
  rejectHint: number;
  snapshot?: Snapshot;
  /**
   * ReadIndex / ReadIndexResp: the caller's read context. Heartbeat / HeartbeatResp: the
   * read-confirmation round number encoded by the core (see read-index.ts). Vote / PreVote:
   * the bytes "transfer" when the election was started by TimeoutNow (skips leader stickiness).
   */
  context?: Uint8Array;
  /**
   * ReadIndex made on this node (RawNode.readIndex), never sent: the caller asks while a request
   * of its own is still in flight, so its reads arrive faster than rounds complete, and a round
   * serving only such requests may ask just a quorum (read-index.ts, `askFor`). A forwarded
   * request loses it, and a round that serves any request without it asks every follower.
   */
  narrow?: boolean;
}

/** Returned in Ready once a linearizable read may be served at `index` (after apply reaches it). */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

/**
 * One batch of work for the runtime. Contract (in this order):
 *  1. persist `snapshot` (if any), `entries` and `hardState` (if any) in one durable write;
 *  2. send `messages` (only after step 1; a leader's App/Heartbeat/Snap messages may be sent
 *     before step 1, since the leader counts its own entries only once `advance` reports them
 *     durable, but not while a hard state that changes its term or vote is still unsaved: a
 *     single voter becomes leader in the Ready that raises its term);
 *  3. install `snapshot` into the state machine, then apply `committedEntries` in order;
 *  4. serve `readStates` once the state machine has applied up to each `index`;
 *  5. call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  /** True when hardState or entries changed and therefore need an fsync. */
  mustSync: boolean;
}

export const ReadOnlyOption = {
  /** ReadIndex: a quorum confirms leadership after the read arrived. */
  Safe: 'safe',
  /** Lease: the leader trusts its CheckQuorum lease; requires checkQuorum. */
  LeaseBased: 'lease',
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [e, 2e)). */
  electionTick: number;
  heartbeatTick: number;
  storage: import('./storage.ts').Storage;
  /** Index of the last entry already applied to the state machine (on restart). */
  applied?: number;
  /** Maximum bytes of entries in one App message. */
  maxSizePerMsg?: number;
  /** Maximum in-flight App messages per follower in the replicate state. */
  maxInflightMsgs?: number;
  /** Maximum in-flight bytes per follower (0 = unlimited). */
  maxInflightBytes?: number;
  /** Maximum bytes of committed entries handed out in one Ready. */
  maxCommittedSizePerReady?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  readOnlyOption?: ReadOnlyOption;
  /**
   * Lease reads: whether the lease begun by confirmation round `round` of this leader's term
   * `term` still holds, i.e. whether less than a lease has passed, on the node's monotonic clock,
   * since a heartbeat carrying that round or a later one first left (src/node/lease.ts). The
   * core never reads a clock; it asks. Without it, lease mode confirms every read with a round.
   */
  leaseHolds?: (term: number, round: number) => boolean;
  /** A seeded PRNG in [0, 1). Election jitter is the only randomness in the core. */
  random: () => number;
  /** Receives debug strings; the core never logs by itself. */
  logger?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
}

/** A typed error per failure, so callers can map them to client replies. */
export class ProposalDroppedError extends Error {
  override name = 'ProposalDroppedError';
  constructor(reason: string) {
    super(`proposal dropped: ${reason}`);
  }
}

export class CompactedError extends Error {
  override name = 'CompactedError';
  constructor(index: number) {
    super(`requested index ${index} is unavailable due to compaction`);
  }
}

export class UnavailableError extends Error {
  override name = 'UnavailableError';
  constructor(index: number) {
    super(`requested entry at index ${index} is unavailable`);
  }
}

/**
 * The entries from `index` are retained but not in memory (storage keeps only a tail there):
 * the storage has begun reading them from disk, and the caller asks again later. Only entries
 * at or below the applied index are ever out of memory, so only sends to a trailing follower
 * meet this.
 */
export class EntriesNotLoadedError extends Error {
  override name = 'EntriesNotLoadedError';
  constructor(
    readonly index: number,
    /** The first index whose entry is in memory: the read need go no further. */
    readonly memoryFirst: number,
  ) {
    super(`entries from index ${index} are being read from disk`);
  }
}

export class SnapshotTemporarilyUnavailableError extends Error {
  override name = 'SnapshotTemporarilyUnavailableError';
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

export const ConfChangeType = {
  /** Add a node as a non-voting learner (the first step of every join). */
  AddLearner: 'add-learner',
  /** Add a voter, or promote a learner to voter. */
  AddVoter: 'add-voter',
  RemoveNode: 'remove-node',
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/**
 * One membership change. RaftKV changes one server at a time (dissertation section 4.1): the
 * leader accepts a new ConfChange only when the previous one has been applied, and only after
 * its own term's no-op has been applied. `context` carries runtime data (e.g. the new member's
 * addresses) that the core passes through untouched.
 */
export interface ConfChange {
  type: ConfChangeType;
  node: NodeId;
  context?: Uint8Array;
}

/** Raised when the core detects a broken invariant (etcd would panic): never catch and continue. */
export class RaftInvariantError extends Error {
  override name = 'RaftInvariantError';
}

/** The RaftConfig passed to RawNode is unusable. */
export class InvalidConfigError extends Error {
  override name = 'InvalidConfigError';
}

/** A proposed ConfChange would leave the cluster unusable (e.g. no voters). */
export class InvalidConfChangeError extends Error {
  override name = 'InvalidConfChangeError';
}

/** Bytes given to decodeConfChange are not an encoded ConfChange. */
export class ConfChangeDecodeError extends Error {
  override name = 'ConfChangeDecodeError';
}

/** MemoryStorage was asked to install or create a snapshot older than the one it has. */
export class SnapshotOutOfDateError extends Error {
  override name = 'SnapshotOutOfDateError';
  constructor(index: number, current: number) {
    super(`snapshot at index ${index} is older than the current one at ${current}`);
  }
}

export const ProgressState = {
  /** The leader sends one App per heartbeat until it finds the follower's last matching index. */
  Probe: 'probe',
  /** The leader streams entries optimistically, bounded by the inflight window. */
  Replicate: 'replicate',
  /** The follower needs a snapshot; nothing else is sent until reportSnapshot. */
  Snapshot: 'snapshot',
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lead: NodeId;
  role: Role;
  conf: ConfState;
  leadTransferee: NodeId;
  /** Only on the leader: what it knows of every member's log. */
  progress?: Record<NodeId, ProgressStatus>;
}
