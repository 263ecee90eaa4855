/**
 * One client connection of the RESP server: its parser, its reply writer and the ordered queue
 * of replies it owes (see server.ts for the rules). Talks to the server only through
 * `ConnectionHost`, so the two files do not import each other.
 *
 * Memory. What the connection holds is counted as Redis counts it (`memory()`, CLIENT LIST):
 * the parser's qbuf and argv-mem, the MULTI queue, and `omem`, the reply bytes owed (encoded
 * and not yet handed to the socket, the socket's own backlog, and finished replies waiting
 * behind an unfinished one). Once omem reaches the output mark (outputHighWater) the
 * connection is no longer served: no request is read or dispatched, and no more replies are
 * encoded, until the client reads. A client that never reads therefore costs the mark plus
 * one reply, and stalls only itself. client-output-buffer-limit closes it beyond that (pub/sub
 * pushes do not wait for requests), and the server's cron enforces maxmemory-clients.
 */
import type net from 'node:net';
import { writeTrace } from '../node/write-trace.ts';
import { ClientConn, type ClientMemory, type ConnectionControl } from './conn.ts';
import { DeferredReply, type DeferredReplyOwner } from './deferred-reply.ts';
import { heldBytes, ReplyWriter, type RespVersion } from './encoder.ts';
import { ClientLimitError, ProtocolError, QueryBufferLimitError, thrownReply } from './errors.ts';
import { RequestParser } from './parser.ts';
import { R, type Reply } from './reply.ts';
import type { ResolvedOptions, RespServerStats } from './server.ts';

/** What a connection needs from the server that accepted it. */
export interface ConnectionHost {
  readonly options: ResolvedOptions;
  readonly stats: RespServerStats;
  removeConnection(c: Connection): void;
}

/** How long a closing connection may wait for its owed replies before it is dropped. */
const CLOSE_GRACE_MS = 5000;

/** A place in the reply queue: a finished reply, or a deferred one still unsettled. */
interface Slot {
  readonly reply: Reply | null;
  readonly proto: RespVersion;
}

const Pause = { Output: 1, InFlight: 2 } as const;

function isPromise(v: Reply | Promise<Reply>): v is Promise<Reply> {
  return typeof (v as Promise<Reply>).then === 'function';
}

export class Connection implements ConnectionControl, DeferredReplyOwner {
  readonly conn: ClientConn;
  private readonly parser: RequestParser;
  private readonly writer: ReplyWriter;
  private readonly queue: Slot[] = [];
  private inFlight = 0;
  /** heldBytes of the finished replies waiting in `queue`. */
  private queuedBytes = 0;
  /** When omem went above the soft output limit (0: it is not). */
  private softLimitSince = 0;
  private paused = 0;
  private closing = false;
  private ended = false;
  private closed = false;
  private drainScheduled = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private readonly drainTask = (): void => {
    this.drainScheduled = false;
    this.drain();
    // Only requests parsed while paused, or unparsed bytes, need another pass; a reply alone
    // (the common case) does not.
    if (!this.closing && this.paused === 0 && this.parser.bufferedBytes() > 0) this.processInput();
  };

  constructor(
    private readonly server: ConnectionHost,
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
    // The socket took its backlog: write what waits, and serve again once below the mark.
    socket.on('drain', () => this.scheduleDrain());
    socket.on('error', (err) => server.options.onError(err, this.conn));
    socket.on('close', () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    const o = this.server.options;
    this.server.stats.totalNetInputBytes += chunk.length;
    this.conn.lastInteraction = o.now();
    writeTrace?.received();
    // CONFIG SET client-query-buffer-limit applies to connections already open.
    this.parser.limits.queryBufferLimit = o.queryBufferLimit;
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
          if (!(err instanceof ProtocolError)) {
            // A parser bug must cost this connection, not the process.
            server.options.onError(err, conn);
            this.close();
            break;
          }
          this.enqueue(R.error(Buffer.concat([Buffer.from('ERR '), err.bytes])), conn.resp);
          this.closeAfterReply();
          break;
        }
        if (argv === null) break;
        server.stats.totalCommandsProcessed++;
        this.dispatch(argv);
        if (this.inFlight >= server.options.maxInFlight) this.pause(Pause.InFlight);
        // A client that pipelines big reads without reading replies is stopped here, mid-chunk:
        // drain() stops serving it while its owed bytes are at the mark.
        if (this.owed() >= server.options.outputHighWater) this.drain();
      }
      this.drain();
    } finally {
      this.socket.uncork();
    }
  }

  private dispatch(argv: Buffer[]): void {
    let result: Reply | Promise<Reply> | DeferredReply;
    try {
      result = this.server.options.dispatcher.dispatch(this.conn, argv);
    } catch (err) {
      result = this.failure(err);
    }
    if (result instanceof DeferredReply) {
      // Settled while the handler ran: a finished reply like any other.
      if (result.reply !== null) {
        this.enqueue(result.reply, result.proto);
        return;
      }
      this.queue.push(result);
      result.inFlight = true;
      this.inFlight++;
      return;
    }
    // The version in force once the handler returned: HELLO 3 answers in RESP3 itself.
    const proto = this.conn.resp;
    if (!isPromise(result)) {
      this.enqueue(result, proto);
      return;
    }
    const deferred = new DeferredReply(this, proto);
    this.queue.push(deferred);
    deferred.inFlight = true;
    this.inFlight++;
    result.then(
      (reply) => deferred.settle(reply),
      (err: unknown) => deferred.settle(this.failure(err)),
    );
  }

  defer(): DeferredReply {
    return new DeferredReply(this, this.conn.resp);
  }

  settled(d: DeferredReply): void {
    if (!d.inFlight) return;
    d.inFlight = false;
    this.inFlight--;
    this.queuedBytes += heldBytes(d.reply as Reply);
    if (this.inFlight < this.server.options.maxInFlight / 2) this.unpause(Pause.InFlight);
    writeTrace?.settled();
    this.scheduleDrain();
  }

  private failure(err: unknown): Reply {
    return thrownReply(err, (e) => this.server.options.onError(e, this.conn));
  }

  /** A finished reply: written now if nothing is ahead of it, else queued behind. */
  private enqueue(reply: Reply, proto: RespVersion): void {
    if (this.queue.length === 0) {
      this.writer.write(reply, proto);
    } else {
      this.queue.push({ reply, proto });
      this.queuedBytes += heldBytes(reply);
    }
  }

  push(reply: Reply): void {
    if (this.closing) return;
    // A subscriber that does not read gets nothing encoded past the mark: messages wait as
    // replies, counted in omem, until the client-output-buffer-limit closes it.
    if (this.owed() >= this.server.options.outputHighWater) {
      this.queue.push({ reply, proto: this.conn.resp });
      this.queuedBytes += heldBytes(reply);
    } else {
      this.enqueue(reply, this.conn.resp);
    }
    this.scheduleDrain();
    this.checkOutputLimits();
  }

  /** Reply bytes owed to the client (CLIENT LIST omem). */
  private owed(): number {
    return this.writer.buffered + this.socket.writableLength + this.queuedBytes;
  }

  /**
   * client-output-buffer-limit for the connection's class (pubsub while subscribed, else
   * normal): closes it above the hard limit, or once above the soft limit for its seconds.
   * Returns whether it closed the connection.
   */
  checkOutputLimits(): boolean {
    if (this.closed || this.socket.destroyed) return false;
    const o = this.server.options;
    const limit = this.conn.subscribed ? o.outputLimits.pubsub : o.outputLimits.normal;
    const owed = this.owed();
    let over = limit.hard > 0 && owed > limit.hard;
    if (!over && limit.soft > 0 && owed > limit.soft) {
      const now = o.now();
      if (this.softLimitSince === 0) this.softLimitSince = now;
      else over = now - this.softLimitSince >= limit.softSeconds * 1000;
    } else if (!over) {
      this.softLimitSince = 0;
    }
    if (!over) return false;
    const cls = this.conn.subscribed ? 'pubsub' : 'normal';
    o.onError(new ClientLimitError(this.conn.id, `owes ${owed} reply bytes, over client-output-buffer-limit ${cls}`), this.conn);
    this.close();
    return true;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // Replies that finish in the same turn (a commit resolving many writes) share one write.
    queueMicrotask(this.drainTask);
  }

  /**
   * Writes the finished head of the queue and flushes it to the socket, up to the output mark:
   * replies past it wait unencoded (a GET's holds the stored value, not a copy). Serving stops
   * while the owed bytes are at the mark and resumes when the socket drains below it.
   */
  private drain(): void {
    if (this.ended || this.closed || this.socket.destroyed) return;
    const q = this.queue;
    const mark = this.server.options.outputHighWater;
    let n = 0;
    for (;;) {
      while (n < q.length && q[n].reply !== null && this.writer.buffered + this.socket.writableLength < mark) {
        const reply = q[n].reply as Reply;
        this.queuedBytes -= heldBytes(reply);
        this.writer.write(reply, q[n].proto);
        n++;
      }
      this.writer.flush();
      // The socket may have taken it all at once: go on while finished replies wait.
      if (n >= q.length || q[n].reply === null || this.socket.writableLength >= mark) break;
    }
    if (n > 0) {
      q.splice(0, n);
      writeTrace?.replied();
    }
    if (this.closing && q.length === 0) {
      this.ended = true;
      // A client that keeps sending (after a protocol error, say) is dropped by the grace timer;
      // closing now would reset the connection and could lose the reply it is owed.
      this.socket.end();
      return;
    }
    if (this.owed() >= mark) {
      this.pause(Pause.Output);
      this.checkOutputLimits();
    } else {
      if (this.softLimitSince !== 0) this.checkOutputLimits();
      this.unpause(Pause.Output);
    }
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

  memory(): ClientMemory {
    const qbuf = this.parser.queryBytes();
    const argvMem = this.parser.argvBytes();
    const multiMem = this.conn.multiMem;
    const omem = this.owed();
    return { qbuf, argvMem, multiMem, obl: this.writer.buffered, oll: this.queue.length, omem, total: qbuf + argvMem + multiMem + omem };
  }

  /** Waiting for a reply it is owed (a client blocked on a write is not idle for `timeout`). */
  get waiting(): boolean {
    return this.inFlight > 0 || this.queue.length > 0 || this.owed() > 0;
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.server.removeConnection(this);
  }
}
