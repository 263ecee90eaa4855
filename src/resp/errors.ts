/**
 * Failures of the RESP front end, one class per failure as node-redis and ioredis do it.
 *
 * A `ProtocolError` is a malformed request: the server answers `-ERR <message>` and closes that
 * one connection, exactly as redis-server does (networking.c, Redis 7.0). The messages are
 * Redis's own texts byte for byte, because clients and tests match on them.
 */
import { R, type Reply } from './reply.ts';

export abstract class ProtocolError extends Error {
  /**
   * The message as bytes. Redis prints the offending byte raw in "expected '$', got 'X'", so a
   * byte >= 0x80 must reach the wire as itself, not as its UTF-8 encoding.
   */
  readonly bytes: Buffer;

  constructor(message: string) {
    super(message);
    this.bytes = Buffer.from(message, 'latin1');
  }
}

export class ExpectedDollarError extends ProtocolError {
  override name = 'ExpectedDollarError';
  constructor(readonly got: number) {
    super(`Protocol error: expected '$', got '${String.fromCharCode(got)}'`);
  }
}

export class InvalidMultibulkLengthError extends ProtocolError {
  override name = 'InvalidMultibulkLengthError';
  constructor() {
    super('Protocol error: invalid multibulk length');
  }
}

export class InvalidBulkLengthError extends ProtocolError {
  override name = 'InvalidBulkLengthError';
  constructor() {
    super('Protocol error: invalid bulk length');
  }
}

export class UnbalancedQuotesError extends ProtocolError {
  override name = 'UnbalancedQuotesError';
  constructor() {
    super('Protocol error: unbalanced quotes in request');
  }
}

export class InlineTooBigError extends ProtocolError {
  override name = 'InlineTooBigError';
  constructor() {
    super('Protocol error: too big inline request');
  }
}

export class MultibulkCountTooBigError extends ProtocolError {
  override name = 'MultibulkCountTooBigError';
  constructor() {
    super('Protocol error: too big mbulk count string');
  }
}

export class BulkCountTooBigError extends ProtocolError {
  override name = 'BulkCountTooBigError';
  constructor() {
    super('Protocol error: too big bulk count string');
  }
}

/** Before AUTH, Redis caps a request at 10 arguments so strangers cannot make it allocate. */
export class UnauthenticatedMultibulkLengthError extends ProtocolError {
  override name = 'UnauthenticatedMultibulkLengthError';
  constructor() {
    super('Protocol error: unauthenticated multibulk length');
  }
}

/** Before AUTH, Redis caps each argument at 16384 bytes. */
export class UnauthenticatedBulkLengthError extends ProtocolError {
  override name = 'UnauthenticatedBulkLengthError';
  constructor() {
    super('Protocol error: unauthenticated bulk length');
  }
}

/**
 * The client sent more unprocessed bytes than client-query-buffer-limit allows. Redis logs this
 * and drops the connection without a reply, and so does the server here.
 */
export class QueryBufferLimitError extends Error {
  override name = 'QueryBufferLimitError';
  constructor(
    readonly buffered: number,
    readonly limit: number,
  ) {
    super(`query buffer of ${buffered} bytes exceeds client-query-buffer-limit ${limit}`);
  }
}

/**
 * A client passed client-output-buffer-limit or was chosen by maxmemory-clients: the server
 * reports it (Redis logs it) and closes the connection without a reply.
 */
export class ClientLimitError extends Error {
  override name = 'ClientLimitError';
  constructor(
    readonly clientId: number,
    detail: string,
  ) {
    super(`client ${clientId} closed: ${detail}`);
  }
}

/**
 * Thrown by a command handler (or a helper deep inside one) to answer with an error reply:
 * `throw new CommandError('ERR value is not an integer or out of range')`. The server turns it
 * into that reply; any other exception becomes `-ERR internal error` and is reported.
 */
export class CommandError extends Error {
  override name = 'CommandError';
  /** `text` includes the error code, as in `R.error`. */
  constructor(readonly text: string) {
    super(text);
  }
}

/** What a client hears for anything else a command throws: a bug, which `report` logs. */
export const INTERNAL_ERROR = R.error('ERR internal error');

/** The reply for an error a command threw: its own text for a CommandError, else INTERNAL_ERROR. */
export function thrownReply(err: unknown, report: (err: unknown) => void): Reply {
  if (err instanceof CommandError) return R.error(err.text);
  report(err);
  return INTERNAL_ERROR;
}

/** A `many` reply (several replies to one request) was put inside an array or map. */
export class NestedManyReplyError extends Error {
  override name = 'NestedManyReplyError';
  constructor() {
    super("a 'many' reply is only valid at the top level");
  }
}

/** A deferred reply was settled twice: a handler bug that would answer one request twice. */
export class DeferredReplySettledError extends Error {
  override name = 'DeferredReplySettledError';
  constructor() {
    super('a deferred reply was settled twice');
  }
}

/**
 * The follower proxy's replies (src/resp/proxy/), Redis-style: TRYAGAIN when the command
 * certainly did not run (a client may retry it), the runtime's "outcome unknown" for a write
 * whose leader went away before answering, EXECABORT for a transaction it cannot carry.
 */
export const PROXY_ERRORS = {
  /** No leader was known, its link was down, or the forward budget full, for the whole wait; nothing was sent. */
  noLeader: (waitedMs: number) =>
    R.error(
      `TRYAGAIN no leader to forward to within ${waitedMs} ms (no leader known, its link down, or the forward queue full); the command did not run, retry`,
    ),
  /** The leader answered that it is not the leader any more, or the forward queue is full. */
  notRun: R.error('TRYAGAIN the leader changed before the command ran; it did not run, retry'),
  /** A read whose leader went away before it answered: reads change nothing, so retrying is safe. */
  readLost: (leader: string, why: string) => R.error(`TRYAGAIN the leader ${leader} did not answer this read (${why}); retry`),
  /** Shutting down with the command not yet sent. */
  closing: R.error('TRYAGAIN this node is shutting down; retry on another node'),
  /** A reply larger than one peer frame (KEYS or MGET of huge values). */
  replyTooBig: (bytes: number) => R.error(`ERR the reply of ${bytes} bytes is too large to relay through the follower proxy; send this command to the leader`),
  /** A unit (a transaction with very many WATCHed keys) larger than one peer frame. */
  requestTooBig: (bytes: number) => R.error(`ERR the request of ${bytes} bytes is too large to forward to the leader; send it to the leader`),
  /** CONFIG SET of per-node parameters (applied here) and cluster-wide ones (the leader's) at once. */
  mixedConfigSet: R.error('ERR CONFIG SET of cluster-wide and per-node parameters at once cannot go through the follower proxy; set them in two commands'),
  /** A command in MULTI that changes this connection's state cannot run on the leader for it. */
  notInForwardedMulti: (name: string) =>
    R.error(`EXECABORT Transaction discarded because of: ${name.toUpperCase()} cannot run inside a transaction the follower proxy forwards to the leader`),
} as const;

/**
 * Sharding's routing replies (issue 13), Redis Cluster's texts where Redis has one
 * (cluster.c clusterRedirectClient). MOVED itself is built from the target's address
 * (handlers/runtime-errors.ts), and `CLUSTERDOWN No leader elected` is the runtime's.
 */
export const ROUTING_ERRORS = {
  /** The keys (or shard channels) of one request, or of one transaction, are in different groups. */
  crossSlot: R.error("CROSSSLOT Keys in request don't hash to the same slot"),
  /** No group owns the slot in this node's slot map. */
  slotUnbound: R.error('CLUSTERDOWN Hash slot not served'),
  /** The slot's group is being split or a replica moved: the command did not run. */
  slotChanging: (slot: number) =>
    R.error(`TRYAGAIN slot ${slot} is changing groups (a split or replica move is being applied); the command did not run, retry`),
  /** Redis 7.0 refuses SSUBSCRIBE inside MULTI when EXEC runs it (pubsub.c ssubscribeCommand). */
  ssubscribeInExec: R.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client"),
} as const;
