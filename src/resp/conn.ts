/**
 * The per-connection state that command handlers read and write, and the CLIENT INFO/LIST line
 * that describes it. The server owns the socket; a `ClientConn` reaches it only through the
 * small `ConnectionControl` interface, so handlers and tests can use a connection without a
 * socket behind it.
 */
import type { CommandSpec } from './commands/spec.ts';
import type { DeferredReply } from './deferred-reply.ts';
import type { RespVersion } from './encoder.ts';
import { ARG_OVERHEAD } from './parser.ts';
import type { Reply } from './reply.ts';

/** A command queued between MULTI and EXEC. */
export interface QueuedCommand {
  readonly cmd: CommandSpec;
  readonly argv: Buffer[];
}

/** A connection's memory, as CLIENT LIST shows it (bytes). */
export interface ClientMemory {
  /** Received bytes not yet parsed into arguments. */
  qbuf: number;
  /** The arguments of the request being parsed, with their per-argument overhead. */
  argvMem: number;
  /** Commands queued since MULTI. */
  multiMem: number;
  /** Encoded reply bytes not yet given to the socket. */
  obl: number;
  /** Replies waiting in the queue. */
  oll: number;
  /** Every reply byte owed: obl, the socket's backlog and the waiting replies. */
  omem: number;
  /** qbuf + argv-mem + multi-mem + omem. */
  total: number;
}

/** What a connection asks of the server that owns its socket. */
export interface ConnectionControl {
  /** Sends a reply out of band (pub/sub), after every reply already due on this connection. */
  push(reply: Reply): void;
  /** A reply to settle later, for the handler to return (see DeferredReply). */
  defer(): DeferredReply;
  /** Stops reading requests and closes once every pending reply has been written (QUIT). */
  closeAfterReply(): void;
  /** Drops the connection now; pending replies are lost (CLIENT KILL). */
  close(): void;
  /** What the connection holds, for CLIENT LIST. */
  memory(): ClientMemory;
}

/** Whole seconds of a span, never negative (a clock may step back). */
function seconds(ms: number): number {
  return Math.max(0, Math.floor(ms / 1000));
}

export class ClientConn {
  /** CLIENT SETNAME; null until set. */
  name: string | null = null;
  /** Reply protocol, switched by HELLO. */
  resp: RespVersion = 2;
  /** READONLY was sent: reads may be served from this (follower) node's local state. */
  readonly = false;
  /** False until AUTH succeeds when a password is required. */
  authenticated: boolean;
  /** ACL user name, as CLIENT LIST prints it. */
  user = 'default';
  db = 0;
  /** CLIENT NO-EVICT. */
  noEvict = false;
  /**
   * Accepted on the TLS port (set by the server): MOVED and CLUSTER replies then name members'
   * TLS ports, as Redis does for a TLS client with tls-cluster.
   */
  tls = false;
  /** Subscribed channels, patterns and shard channels, as latin1 strings (lossless for any bytes). */
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  readonly shardChannels = new Set<string>();
  /** Commands queued since MULTI; null outside a transaction. */
  multi: QueuedCommand[] | null = null;
  /** Arguments and their bytes in `multi`, kept by whoever queues (CLIENT LIST multi-mem). */
  multiArgs = 0;
  multiBytes = 0;
  /** A command was rejected while queuing: EXEC must answer EXECABORT. */
  multiDirty = false;
  /**
   * WATCHed keys (latin1 strings) to whatever the dispatcher recorded at WATCH time, e.g. the
   * log index that last wrote the key; EXEC compares at apply time.
   */
  readonly watched = new Map<string, number>();
  /** A watched key was touched (CLIENT LIST flag `d`). */
  watchDirty = false;
  /**
   * The latest write of this connection that is not applied yet, for the dispatcher to set.
   * Requests are dispatched without waiting for earlier replies, but Redis runs a connection's
   * commands in order: a read dispatched after a write must wait for it before reading state
   * (`await conn.pendingWrite`), or it could answer from before the write. Settle it either
   * way (a failed write must not block later reads).
   */
  pendingWrite: Promise<unknown> | null = null;
  /** Full name of the last command looked up (CLIENT LIST `cmd=`). */
  lastCommand: string | null = null;
  /** ms timestamps from the server clock. */
  lastInteraction: number;

  constructor(
    readonly id: number,
    /** Peer address, "127.0.0.1:51234". */
    readonly addr: string,
    /** Local address, "127.0.0.1:6379". */
    readonly laddr: string,
    readonly fd: number,
    readonly createdAt: number,
    authenticated: boolean,
    private readonly control: ConnectionControl,
  ) {
    this.authenticated = authenticated;
    this.lastInteraction = createdAt;
  }

  /** CLIENT LIST multi-mem: the queued arguments, each with a parsed argument's overhead. */
  get multiMem(): number {
    return this.multiBytes + this.multiArgs * ARG_OVERHEAD;
  }

  /** Queues a command after MULTI (the router checked it may be). */
  queue(cmd: CommandSpec, argv: Buffer[]): void {
    (this.multi as QueuedCommand[]).push({ cmd, argv });
    this.multiArgs += argv.length;
    for (const a of argv) this.multiBytes += a.length;
  }

  /** Ends the transaction: nothing queued, nothing doomed. */
  clearMulti(): void {
    this.multi = null;
    this.multiDirty = false;
    this.multiArgs = 0;
    this.multiBytes = 0;
  }

  /** In subscribe mode (RESP2 then restricts the commands it accepts). */
  get subscribed(): boolean {
    return this.channels.size > 0 || this.patterns.size > 0 || this.shardChannels.size > 0;
  }

  /** What the connection holds now (CLIENT LIST's fields; omem: reply bytes owed). */
  memory(): ClientMemory {
    return this.control.memory();
  }

  /** Delivers a pub/sub message or other out-of-band reply. */
  push(reply: Reply): void {
    this.control.push(reply);
  }

  /**
   * A reply owed later: return it from the handler, settle it when the answer is known. The
   * promise-free alternative to returning a Promise, for hot paths.
   */
  defer(): DeferredReply {
    return this.control.defer();
  }

  closeAfterReply(): void {
    this.control.closeAfterReply();
  }

  close(): void {
    this.control.close();
  }

  /** Back to a fresh connection's state, as RESET does (the caller unsubscribes first). */
  reset(): void {
    this.name = null;
    this.resp = 2;
    this.readonly = false;
    this.db = 0;
    this.noEvict = false;
    this.channels.clear();
    this.patterns.clear();
    this.shardChannels.clear();
    this.clearMulti();
    this.watched.clear();
    this.watchDirty = false;
  }

  /** The CLIENT INFO / CLIENT LIST line (without the trailing newline), in Redis 7.0's format. */
  info(now: number): string {
    const m = this.control.memory();
    let flags = '';
    if (this.subscribed) flags += 'P';
    if (this.multi !== null) flags += 'x';
    if (this.watchDirty) flags += 'd';
    if (this.readonly) flags += 'r';
    if (this.noEvict) flags += 'e';
    return [
      `id=${this.id}`,
      `addr=${this.addr}`,
      `laddr=${this.laddr}`,
      `fd=${this.fd}`,
      `name=${this.name ?? ''}`,
      `age=${seconds(now - this.createdAt)}`,
      `idle=${seconds(now - this.lastInteraction)}`,
      `flags=${flags || 'N'}`,
      `db=${this.db}`,
      `sub=${this.channels.size}`,
      `psub=${this.patterns.size}`,
      `ssub=${this.shardChannels.size}`,
      `multi=${this.multi?.length ?? -1}`,
      `qbuf=${m.qbuf}`,
      'qbuf-free=0',
      `argv-mem=${m.argvMem}`,
      `multi-mem=${m.multiMem}`,
      'rbs=0',
      'rbp=0',
      `obl=${m.obl}`,
      `oll=${m.oll}`,
      `omem=${m.omem}`,
      `tot-mem=${m.total}`,
      'events=r',
      `cmd=${this.lastCommand ?? 'NULL'}`,
      `user=${this.user}`,
      'redir=-1',
      `resp=${this.resp}`,
    ].join(' ');
  }
}
