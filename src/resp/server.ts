/**
 * The RESP TCP server: owns the sockets, parses requests, hands each one to a `Dispatcher`, and
 * writes the replies back strictly in request order.
 *
 * Ordering: every request gets a place in its connection's reply queue when it is dispatched.
 * A handler may answer at once or with a promise (a write waiting for its log entry to commit);
 * replies leave the queue from the head only, so a fast read never overtakes an earlier write
 * on the same connection. Out-of-band pushes (pub/sub) join the tail of that queue.
 *
 * Batching: replies finished in one event-loop turn go out in one socket write (see encoder).
 *
 * Protection: Redis's request limits (parser), maxclients, protected mode (`refuseClient`), a
 * cap on requests in flight per connection and on unsent output (reading pauses until the
 * client catches up), and a hard output cap for pub/sub subscribers that do not read. A
 * protocol error answers `-ERR Protocol error: ...` and closes that connection only, after the
 * replies it is owed.
 */
import net from 'node:net';
import type { ClientConn } from './conn.ts';
import { Connection, type ConnectionHost } from './connection.ts';
import type { DeferredReply } from './deferred-reply.ts';
import type { ParserLimits } from './parser.ts';
import type { Reply } from './reply.ts';

/** What a handler answers: the reply, a promise of it, or a reply it will settle later. */
export type Answer = Reply | Promise<Reply> | DeferredReply;

/**
 * Runs requests. The node's implementation routes them to Raft; `CommandRouter`
 * (commands/router.ts) does the Redis-level checks and calls a handler table.
 */
export interface Dispatcher {
  /**
   * Runs one request. `argv[0]` is the command name as sent; arguments are views on received
   * bytes (copy what you keep). Return the reply, or for work that waits (a write until it
   * commits) a promise of it or a `conn.defer()` settled later: later requests of the connection are dispatched meanwhile, but
   * their replies wait for this one. State changes that later requests must see (MULTI, HELLO,
   * SUBSCRIBE) must be made before returning, and a read must not run ahead of the
   * connection's earlier writes (see `ClientConn.pendingWrite`). Throw `CommandError` to answer
   * an error; any other exception answers `-ERR internal error` and goes to `onError`.
   */
  dispatch(conn: ClientConn, argv: Buffer[]): Answer;
  /** A connection was accepted. */
  connected?(conn: ClientConn): void;
  /** A connection is gone, whatever the reason: drop its subscriptions and watches here. */
  disconnected?(conn: ClientConn): void;
}

export interface RespServerOptions {
  dispatcher: Dispatcher;
  /** Listen address; loopback unless configured otherwise. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  limits?: Partial<ParserLimits>;
  /** maxclients (Redis default 10000). */
  maxClients?: number;
  /** Whether new connections must AUTH first (requirepass set). Read per connection. */
  authRequired?: () => boolean;
  /**
   * Checked for each accepted client after maxclients, as Redis checks protected mode: a reply
   * to write before closing the connection (the client is refused), or null to serve it.
   */
  refuseClient?: (remoteAddress: string | undefined) => Buffer | null;
  /** Pause reading a connection while this many reply bytes wait for its socket. */
  outputHighWater?: number;
  /** Pause reading a connection while this many of its requests await their replies. */
  maxInFlight?: number;
  /** Close a subscribed connection whose unsent output passes this (Redis: pubsub 32mb). */
  pubsubOutputLimit?: number;
  /** Clock in ms for CLIENT LIST age/idle. */
  now?: () => number;
  /** Handler exceptions and socket errors; connections survive them. */
  onError?: (err: unknown, conn: ClientConn | null) => void;
}

export interface RespServerStats {
  totalConnectionsReceived: number;
  rejectedConnections: number;
  totalCommandsProcessed: number;
  totalNetInputBytes: number;
  totalNetOutputBytes: number;
}

/** The options with their defaults filled in. */
export type ResolvedOptions = Required<Omit<RespServerOptions, 'limits'>> & Pick<RespServerOptions, 'limits'>;

const MAX_CLIENTS_ERROR = Buffer.from('-ERR max number of clients reached\r\n');
/** How long a refused client may take to read its refusal and close. */
const REFUSED_GRACE_MS = 1000;

/** The RESP listener. */
export class RespServer implements ConnectionHost {
  readonly options: ResolvedOptions;
  readonly stats: RespServerStats = {
    totalConnectionsReceived: 0,
    rejectedConnections: 0,
    totalCommandsProcessed: 0,
    totalNetInputBytes: 0,
    totalNetOutputBytes: 0,
  };
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private nextId = 1;

  constructor(options: RespServerOptions) {
    this.options = {
      host: '127.0.0.1',
      port: 0,
      maxClients: 10000,
      authRequired: () => false,
      refuseClient: () => null,
      outputHighWater: 1024 * 1024,
      maxInFlight: 16384,
      pubsubOutputLimit: 32 * 1024 * 1024,
      now: Date.now,
      onError: () => {},
      ...options,
    };
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the bound address (port 0 picks one). */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve(this.address());
      });
    });
  }

  address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Connected clients (CLIENT LIST, INFO clients). */
  clients(): ClientConn[] {
    return [...this.connections].map((c) => c.conn);
  }

  get clientCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, lets each connection finish the replies it owes (up to a grace period),
   * and resolves once every connection is closed.
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.closeAfterReply();
    await closed;
  }

  private accept(socket: net.Socket): void {
    this.stats.totalConnectionsReceived++;
    const refusal =
      this.connections.size >= this.options.maxClients ? MAX_CLIENTS_ERROR : this.options.refuseClient(socket.remoteAddress);
    if (refusal !== null) {
      this.refuse(socket, refusal);
      return;
    }
    const c = new Connection(this, socket, this.nextId++);
    this.connections.add(c);
    try {
      this.options.dispatcher.connected?.(c.conn);
    } catch (err) {
      this.options.onError(err, c.conn);
      c.close();
    }
  }

  /**
   * Answers a refused client and closes. What it sends meanwhile is read and dropped, so its
   * close is seen; one that never closes is dropped after a grace period, so refused sockets
   * (which maxclients does not count) cannot pile up.
   */
  private refuse(socket: net.Socket, reply: Buffer): void {
    this.stats.rejectedConnections++;
    const timer = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS);
    timer.unref();
    socket.on('error', () => {});
    socket.on('close', () => clearTimeout(timer));
    socket.resume();
    socket.end(reply);
  }

  /** @internal Called by a connection once its socket has closed. */
  removeConnection(c: Connection): void {
    if (!this.connections.delete(c)) return;
    try {
      this.options.dispatcher.disconnected?.(c.conn);
    } catch (err) {
      this.options.onError(err, c.conn);
    }
  }
}
