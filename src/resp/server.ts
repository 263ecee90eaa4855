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
 * connection and on unsent output (reading pauses until the client catches up), and a hard
 * output cap for pub/sub subscribers that do not read. A protocol error answers
 * `-ERR Protocol error: ...` and closes that connection only, after the replies it is owed.
 */
import net from 'node:net';
import { ClientConn, type ConnectionControl } from './conn.ts';
import { ReplyWriter, type RespVersion } from './encoder.ts';
import { CommandError, ProtocolError, QueryBufferLimitError } from './errors.ts';
import { type ParserLimits, RequestParser } from './parser.ts';
import { R, type Reply } from './reply.ts';

/**
 * Runs requests. The lead's implementation routes them to the Raft node; `CommandRouter`
 * (commands/router.ts) does the Redis-level checks and calls a handler table.
 */
export interface Dispatcher {
  /**
   * Runs one request. `argv[0]` is the command name as sent; arguments are views on received
   * bytes (copy what you keep). Return the reply, or a promise of it for work that waits (a
   * write until it commits): later requests of the connection are dispatched meanwhile, but
   * their replies wait for this one. State changes that later requests must see (MULTI, HELLO,
   * SUBSCRIBE) must be made before returning. Throw `CommandError` to answer an error; any
   * other exception answers `-ERR internal error` and goes to `onError`.
   */
  dispatch(conn: ClientConn, argv: Buffer[]): Reply | Promise<Reply>;
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

const MAX_CLIENTS_ERROR = Buffer.from('-ERR max number of clients reached\r\n');
const INTERNAL_ERROR = R.error('ERR internal error');
/** How long a closing connection may wait for its owed replies before it is dropped. */
const CLOSE_GRACE_MS = 5000;

interface Slot {
  reply: Reply | null;
  proto: RespVersion;
}

const Pause = { Output: 1, InFlight: 2 } as const;

function isPromise(v: Reply | Promise<Reply>): v is Promise<Reply> {
  return typeof (v as Promise<Reply>).then === 'function';
}

class Connection implements ConnectionControl {
  readonly conn: ClientConn;
  private readonly parser: RequestParser;
  private readonly writer: ReplyWriter;
  private readonly queue: Slot[] = [];
  private inFlight = 0;
  private paused = 0;
  private closing = false;
  private ended = false;
  private closed = false;
  private drainScheduled = false;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly server: RespServer,
    private readonly socket: net.Socket,
    id: number,
  ) {
    const o = server.options;
    this.parser = new RequestParser(o.limits);
    this.writer = new ReplyWriter((chunk, release) => {
      server.stats.totalNetOutputBytes += chunk.length;
      socket.write(chunk, release === null ? undefined : () => release());
    });
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    this.conn = new ClientConn(
      id,
      `${socket.remoteAddress}:${socket.remotePort}`,
      `${socket.localAddress}:${socket.localPort}`,
      fd,
      o.now(),
      !o.authRequired(),
      this,
    );
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 300_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.unpause(Pause.Output));
    socket.on('error', (err) => server.options.onError(err, this.conn));
    socket.on('close', () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.server.stats.totalNetInputBytes += chunk.length;
    try {
      this.parser.push(chunk);
    } catch (err) {
      if (!(err instanceof QueryBufferLimitError)) throw err;
      this.server.options.onError(err, this.conn);
      this.close();
      return;
    }
    this.processInput();
  }

  /** Dispatches every complete request, then writes what is ready in one batch. */
  private processInput(): void {
    const { conn, parser, server } = this;
    // Corked: a batch's replies, and any large payloads between them, leave in one writev.
    this.socket.cork();
    try {
      while (!this.closing && this.paused === 0) {
        parser.unauthenticated = !conn.authenticated;
        let argv: Buffer[] | null;
        try {
          argv = parser.next();
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          this.enqueue(R.error(Buffer.concat([Buffer.from('ERR '), err.bytes])), conn.resp);
          this.closeAfterReply();
          break;
        }
        if (argv === null) break;
        conn.lastInteraction = server.options.now();
        server.stats.totalCommandsProcessed++;
        this.dispatch(argv);
        if (this.inFlight >= server.options.maxInFlight) this.pause(Pause.InFlight);
        // A client that pipelines big reads without reading replies is stopped here, mid-chunk.
        if (this.writer.buffered + this.socket.writableLength >= server.options.outputHighWater) this.drain();
      }
      this.drain();
    } finally {
      this.socket.uncork();
    }
  }

  private dispatch(argv: Buffer[]): void {
    let result: Reply | Promise<Reply>;
    try {
      result = this.server.options.dispatcher.dispatch(this.conn, argv);
    } catch (err) {
      result = this.failure(err);
    }
    // The version in force once the handler returned: HELLO 3 answers in RESP3 itself.
    const proto = this.conn.resp;
    if (!isPromise(result)) {
      this.enqueue(result, proto);
      return;
    }
    const slot: Slot = { reply: null, proto };
    this.queue.push(slot);
    this.inFlight++;
    result
      .then(
        (reply) => {
          slot.reply = reply;
        },
        (err: unknown) => {
          slot.reply = this.failure(err);
        },
      )
      .then(() => {
        this.inFlight--;
        if (this.inFlight < this.server.options.maxInFlight / 2) this.unpause(Pause.InFlight);
        this.scheduleDrain();
      });
  }

  private failure(err: unknown): Reply {
    if (err instanceof CommandError) return R.error(err.text);
    this.server.options.onError(err, this.conn);
    return INTERNAL_ERROR;
  }

  /** A finished reply: written now if nothing is ahead of it, else queued behind. */
  private enqueue(reply: Reply, proto: RespVersion): void {
    if (this.queue.length === 0) this.writer.write(reply, proto);
    else this.queue.push({ reply, proto });
  }

  push(reply: Reply): void {
    if (this.closing) return;
    this.enqueue(reply, this.conn.resp);
    this.scheduleDrain();
    const limit = this.server.options.pubsubOutputLimit;
    if (this.conn.subscribed && this.writer.buffered + this.socket.writableLength > limit) {
      this.server.options.onError(new Error(`pub/sub client ${this.conn.id} passed the output limit`), this.conn);
      this.close();
    }
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // Replies that finish in the same turn (a commit resolving many writes) share one write.
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
      if (!this.closing && this.paused === 0) this.processInput();
    });
  }

  /** Writes the finished head of the queue and flushes it to the socket. */
  private drain(): void {
    if (this.ended || this.closed || this.socket.destroyed) return;
    const q = this.queue;
    let n = 0;
    while (n < q.length && q[n].reply !== null) {
      this.writer.write(q[n].reply as Reply, q[n].proto);
      n++;
    }
    if (n > 0) q.splice(0, n);
    this.writer.flush();
    if (this.closing && q.length === 0) {
      this.ended = true;
      this.socket.end();
      return;
    }
    if (this.socket.writableLength >= this.server.options.outputHighWater) this.pause(Pause.Output);
  }

  private pause(reason: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= reason;
  }

  private unpause(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if (this.paused !== 0 || this.closing || this.closed) return;
    this.socket.resume();
    // Requests parsed but not dispatched while paused.
    this.scheduleDrain();
  }

  closeAfterReply(): void {
    if (this.closing) return;
    this.closing = true;
    // Owed replies may wait on a commit that never comes; do not wait forever.
    this.graceTimer = setTimeout(() => this.close(), CLOSE_GRACE_MS);
    this.graceTimer.unref();
    this.scheduleDrain();
  }

  close(): void {
    this.closing = true;
    this.socket.destroy();
  }

  stats(): { queryBuffer: number; outputBuffer: number; outputPending: number } {
    return {
      queryBuffer: this.parser.bufferedBytes(),
      outputBuffer: this.writer.buffered,
      outputPending: this.socket.writableLength,
    };
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.server.removeConnection(this);
  }
}

/** The RESP listener. */
export class RespServer {
  readonly options: Required<Omit<RespServerOptions, 'limits'>> & Pick<RespServerOptions, 'limits'>;
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
    if (this.connections.size >= this.options.maxClients) {
      this.stats.rejectedConnections++;
      socket.on('error', () => {});
      socket.end(MAX_CLIENTS_ERROR);
      return;
    }
    const c = new Connection(this, socket, this.nextId++);
    this.connections.add(c);
    this.options.dispatcher.connected?.(c.conn);
  }

  /** @internal Called by a connection once its socket has closed. */
  removeConnection(c: Connection): void {
    if (!this.connections.delete(c)) return;
    this.options.dispatcher.disconnected?.(c.conn);
  }
}
