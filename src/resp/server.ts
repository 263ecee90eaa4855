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
 * Protection: Redis's request limits (parser), maxclients, a cap on requests in flight per
 * connection, an output mark past which a connection is not served until it reads, Redis's
 * client-query-buffer-limit, client-output-buffer-limit, maxmemory-clients and idle `timeout`
 * (see client-cron.ts). A protocol error answers `-ERR Protocol error: ...` and closes that
 * connection only, after the replies it is owed.
 */
import net from 'node:net';
import { DEFAULT_OUTPUT_LIMITS, type OutputLimits, parseOutputLimits } from '../node/client-limits.ts';
import { ClientCron } from './client-cron.ts';
import type { ClientConn } from './conn.ts';
import { Connection, type ConnectionHost } from './connection.ts';
import type { DeferredReply } from './deferred-reply.ts';
import { DEFAULT_PARSER_LIMITS, type ParserLimits } from './parser.ts';
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
  /** Stop serving a connection (reading, dispatching, encoding) while it owes this many reply bytes. */
  outputHighWater?: number;
  /** Pause reading a connection while this many of its requests await their replies. */
  maxInFlight?: number;
  /** client-query-buffer-limit: close a connection holding more in unfinished requests. */
  queryBufferLimit?: number;
  /** client-output-buffer-limit (Redis: normal 0 0 0, pubsub 32mb 8mb 60). */
  outputLimits?: OutputLimits;
  /** maxmemory-clients: above this total, the biggest connections are closed (0: off, as Redis). */
  maxMemoryClients?: number;
  /** timeout: close connections idle this many seconds (0: never). */
  timeout?: number;
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
  /** Client memory totals and peaks, maxmemory-clients and idle timeouts. */
  readonly cron: ClientCron;

  constructor(options: RespServerOptions) {
    this.options = {
      host: '127.0.0.1',
      port: 0,
      maxClients: 10000,
      authRequired: () => false,
      outputHighWater: 1024 * 1024,
      maxInFlight: 16384,
      queryBufferLimit: options.limits?.queryBufferLimit ?? DEFAULT_PARSER_LIMITS.queryBufferLimit,
      outputLimits: parseOutputLimits(DEFAULT_OUTPUT_LIMITS) as OutputLimits,
      maxMemoryClients: 0,
      timeout: 0,
      now: Date.now,
      onError: () => {},
      ...options,
    };
    this.server = net.createServer((socket) => this.accept(socket));
    this.cron = new ClientCron(this.options, this.connections);
  }

  /** Starts listening; resolves with the bound address (port 0 picks one). */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        this.cron.start();
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
    this.cron.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.closeAfterReply();
    await closed;
  }

  private accept(socket: net.Socket): void {
    this.stats.totalConnectionsReceived++;
    if (this.connections.size >= this.options.maxClients) {
      this.stats.rejectedConnections++;
      socket.on('error', () => {});
      socket.end(MAX_CLIENTS_ERROR);
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
