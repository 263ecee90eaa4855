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
 * cap on requests in flight per connection, an output mark past which a connection is not
 * served until it reads, Redis's client-query-buffer-limit, client-output-buffer-limit,
 * maxmemory-clients and idle `timeout` (see client-cron.ts). A protocol error answers
 * `-ERR Protocol error: ...` and closes that connection only, after the replies it is owed.
 *
 * TLS: with `tls` set, a second listener serves RESP over TLS with the same `Connection` class
 * (a TLSSocket is a net.Socket), and `port: null` turns the plain listener off (Redis's `port 0`).
 * Client certificates follow Redis's tls-auth-clients; connections count against maxclients
 * once their handshake is done, and a handshake must finish within TLS_HANDSHAKE_TIMEOUT_MS.
 */
import net from 'node:net';
import tls from 'node:tls';
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
  /** 0 picks a free port; null serves no plain RESP (TLS only). */
  port?: number | null;
  /** A RESP over TLS listener on the same host. */
  tls?: RespTlsOptions;
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

/** Redis's tls-auth-clients: client certificates required, optional (checked if sent), or not asked. */
export type TlsAuthClients = 'yes' | 'no' | 'optional';

export interface RespTlsOptions {
  /** 0 picks a free port. */
  port: number;
  /** Certificate, key, and the CA bundle client certificates must chain to. */
  context: Pick<tls.SecureContextOptions, 'cert' | 'key' | 'ca'>;
  authClients: TlsAuthClients;
}

/** A client that opens a TLS connection and never finishes the handshake holds it this long. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface RespServerStats {
  totalConnectionsReceived: number;
  rejectedConnections: number;
  totalCommandsProcessed: number;
  totalNetInputBytes: number;
  totalNetOutputBytes: number;
}

/** The options with their defaults filled in. */
export type ResolvedOptions = Required<Omit<RespServerOptions, 'limits' | 'tls'>> & Pick<RespServerOptions, 'limits' | 'tls'>;

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
  /** The plain listener, unless turned off (port: null). */
  private readonly server: net.Server | undefined;
  private readonly tlsServer: tls.Server | undefined;
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
      refuseClient: () => null,
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
    if (this.options.port !== null) this.server = net.createServer((socket) => this.accept(socket, false));
    const t = this.options.tls;
    if (t) {
      this.tlsServer = tls.createServer(
        {
          ...t.context,
          requestCert: t.authClients !== 'no',
          rejectUnauthorized: t.authClients === 'yes',
          handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        },
        (socket) => this.acceptTls(socket, t.authClients),
      );
      // A failed handshake (no or bad client certificate, plain text on the TLS port, timeout)
      // costs that socket only; node has already destroyed it. Not a rejected connection in
      // INFO's sense (Redis counts maxclients refusals there), so only reported.
      this.tlsServer.on('tlsClientError', (err) => this.options.onError(err, null));
      // Sockets still in their handshake are not connections yet (maxclients counts those
      // after it), so the TLS listener holds at most maxclients sockets of its own, in their
      // handshake or past it: a flood of connections that never finish their handshake is
      // bounded, not only timed out. node closes the excess before any TLS work.
      this.tlsServer.maxConnections = this.options.maxClients;
      this.tlsServer.on('drop', () => {
        this.stats.totalConnectionsReceived++;
        this.stats.rejectedConnections++;
      });
    }
    if (!this.server && !this.tlsServer) throw new Error('RespServer: no plain port and no TLS port to listen on');
    this.cron = new ClientCron(this.options, this.connections);
  }

  /** Starts listening; resolves with the bound address (port 0 picks one), as `address()`. */
  async listen(): Promise<{ host: string; port: number }> {
    try {
      for (const [srv, port] of [
        [this.server, this.options.port],
        [this.tlsServer, this.options.tls?.port],
      ] as const) {
        if (!srv) continue;
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port ?? 0, this.options.host, () => {
            srv.off('error', reject);
            resolve();
          });
        });
      }
    } catch (err) {
      // One listener failed (its port is taken): the other must not stay bound.
      if (this.server?.listening) this.server.close();
      throw err;
    }
    this.cron.start();
    return this.address();
  }

  /** The plain listener's address, or the TLS one's when plain RESP is off. */
  address(): { host: string; port: number } {
    const a = (this.server ?? this.tlsServer)!.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** The TLS listener's address; undefined without one. */
  tlsAddress(): { host: string; port: number } | undefined {
    const a = this.tlsServer?.address() as net.AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
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
    const closed = [this.server, this.tlsServer].map((srv) => new Promise<void>((resolve) => (srv?.listening ? srv.close(() => resolve()) : resolve())));
    for (const c of this.connections) c.closeAfterReply();
    await Promise.all(closed);
  }

  private acceptTls(socket: tls.TLSSocket, auth: TlsAuthClients): void {
    // node's rejectUnauthorized is all or nothing; Redis's `optional` still refuses a
    // certificate that was sent but does not chain to the CA.
    if (auth === 'optional' && !socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
      this.options.onError(Object.assign(new Error(`TLS client certificate refused: ${socket.authorizationError}`), { code: 'ERR_TLS_CERT' }), null);
      socket.destroy();
      return;
    }
    this.accept(socket, true);
  }

  private accept(socket: net.Socket, overTls: boolean): void {
    this.stats.totalConnectionsReceived++;
    // CONFIG SET maxclients changes the option; the TLS listener's cap follows it from here.
    if (this.tlsServer) this.tlsServer.maxConnections = this.options.maxClients;
    const refusal = this.connections.size >= this.options.maxClients ? MAX_CLIENTS_ERROR : this.options.refuseClient(socket.remoteAddress);
    if (refusal !== null) {
      this.refuse(socket, refusal);
      return;
    }
    const c = new Connection(this, socket, this.nextId++);
    c.conn.tls = overTls;
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
