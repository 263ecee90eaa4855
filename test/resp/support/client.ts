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

export class RawClient {
  private pending = Buffer.alloc(0);
  private readonly replies: Reply[] = [];
  private wake: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.pending = Buffer.concat([this.pending, d]);
      for (;;) {
        const r = readReply(this.pending);
        if (r === null) break;
        this.pending = this.pending.subarray(r.end);
        this.replies.push(r.reply);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Writes raw bytes (a string is sent as latin1, one byte per char). */
  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends one multibulk command and returns its reply. */
  async call(...args: (string | Buffer)[]): Promise<Reply> {
    this.send(encodeRequest(args));
    const [r] = await this.read(1);
    return r;
  }

  /** Waits for n replies (rejects if the server closes first or nothing comes in time). */
  async read(n: number, timeoutMs = 2000): Promise<Reply[]> {
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

  /** Replies received but not yet read. */
  get unread(): number {
    return this.replies.length;
  }

  close(): void {
    this.socket.destroy();
  }
}
