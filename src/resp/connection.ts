/**
 * One client connection of the RESP server: its parser, its reply writer and the ordered queue
 * of replies it owes (see server.ts for the rules). Talks to the server only through
 * `ConnectionHost`, so the two files do not import each other.
 */
import type net from 'node:net';
import { ClientConn, type ConnectionControl } from './conn.ts';
import { DeferredReply, type DeferredReplyOwner } from './deferred-reply.ts';
import { ReplyWriter, type RespVersion } from './encoder.ts';
import { ProtocolError, QueryBufferLimitError, thrownReply } from './errors.ts';
import { RequestParser } from './parser.ts';
import { R, type Reply } from './reply.ts';
import type { RespServerStats, ResolvedOptions } from './server.ts';

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
    socket.on('drain', () => this.unpause(Pause.Output));
    socket.on('error', (err) => server.options.onError(err, this.conn));
    socket.on('close', () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.server.stats.totalNetInputBytes += chunk.length;
    this.conn.lastInteraction = this.server.options.now();
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
        // A client that pipelines big reads without reading replies is stopped here, mid-chunk.
        if (this.writer.buffered + this.socket.writableLength >= server.options.outputHighWater) this.drain();
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
    if (this.inFlight < this.server.options.maxInFlight / 2) this.unpause(Pause.InFlight);
    this.scheduleDrain();
  }

  private failure(err: unknown): Reply {
    return thrownReply(err, (e) => this.server.options.onError(e, this.conn));
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
    queueMicrotask(this.drainTask);
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
