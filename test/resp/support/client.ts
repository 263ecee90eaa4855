/**
 * A raw RESP client for tests: writes exact bytes and reads replies back as `Reply` values, so
 * tests can speak inline commands, broken frames and RESP3 without a library in between.
 */
import net from 'node:net';
import type { Reply } from '../../../src/resp/reply.ts';
import { readReply } from './reply-reader.ts';

/** A multibulk request, as every client library sends it. */
export function encodeRequest(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Cuts one reply off the front of `buf`: its value and where it ends, or null if incomplete. */
export type Framer<T> = (buf: Buffer) => { value: T; end: number } | null;

/**
 * A test connection that writes exact bytes and queues each reply as the framer cuts it from
 * the stream: decoded `Reply` values here, raw reply bytes for the differential tests.
 */
export class FramedConn<T> {
  private inbox = Buffer.alloc(0);
  private readonly replies: T[] = [];
  private wake: (() => void) | null = null;
  closed = false;
  /** Data events received: how many pieces the server's replies arrived in. */
  chunks = 0;

  protected constructor(
    readonly socket: net.Socket,
    frame: Framer<T>,
    private readonly readTimeoutMs: number,
  ) {
    socket.on('data', (d) => {
      this.chunks++;
      this.inbox = Buffer.concat([this.inbox, d]);
      for (;;) {
        const r = this.inbox.length === 0 ? null : frame(this.inbox);
        if (r === null) break;
        this.inbox = this.inbox.subarray(r.end);
        this.replies.push(r.value);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  protected static dial(port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  /** Writes raw bytes (a string is sent as latin1, one byte per char). */
  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Waits for n replies (rejects if the server closes first or nothing comes in time). */
  async read(n: number, timeoutMs = this.readTimeoutMs): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.replies.length} of ${n} replies`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${this.replies.length} of ${n} replies`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
    return this.replies.splice(0, n);
  }

  /** Resolves once the server has closed the connection. */
  async waitClosed(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('server did not close the connection')), timeoutMs);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Replies received but not yet read (pushes, pipelined answers). */
  get unread(): number {
    return this.replies.length;
  }

  close(): void {
    this.socket.destroy();
  }
}

const decodeReply: Framer<Reply> = (buf) => {
  const r = readReply(buf);
  return r === null ? null : { value: r.reply, end: r.end };
};

export class RawClient extends FramedConn<Reply> {
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await FramedConn.dial(port), decodeReply, 2000);
  }

  /** Sends one multibulk command and returns its reply. */
  async call(...args: (string | Buffer)[]): Promise<Reply> {
    this.send(encodeRequest(args));
    const [r] = await this.read(1);
    return r;
  }
}
