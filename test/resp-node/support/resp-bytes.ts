/**
 * Raw RESP for byte-for-byte comparisons: request encoding, and a framer that cuts a reply
 * stream into the exact bytes of each reply (RESP2 and RESP3), without decoding anything.
 */
import net from 'node:net';

/** A multibulk request, as every client library sends it. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** End offset of the reply starting at `at`, or -1 if the buffer holds only part of it. */
export function replyEnd(buf: Buffer, at: number): number {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return -1;
  const type = String.fromCharCode(buf[at]);
  const n = Number(buf.toString('latin1', at + 1, eol));
  let pos = eol + 2;
  switch (type) {
    case '$':
    case '=':
    case '!':
      if (n < 0) return pos;
      return buf.length >= pos + n + 2 ? pos + n + 2 : -1;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (n < 0) return pos;
      const items = type === '%' || type === '|' ? n * 2 : n;
      for (let i = 0; i < items; i++) {
        pos = replyEnd(buf, pos);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default:
      return pos;
  }
}

/** A connection that sends raw requests and hands back each reply's exact bytes. */
export class RawConn {
  private buf = Buffer.alloc(0);
  private readonly replies: Buffer[] = [];
  private wake: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const end = this.buf.length === 0 ? -1 : replyEnd(this.buf, 0);
        if (end < 0) break;
        this.replies.push(this.buf.subarray(0, end));
        this.buf = this.buf.subarray(end);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  send(data: Buffer | string): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends one command and returns its reply's bytes. */
  async call(...args: (string | Buffer)[]): Promise<Buffer> {
    this.send(encodeCommand(args));
    return (await this.read(1))[0];
  }

  /** Waits for `n` replies. */
  async read(n: number, timeoutMs = 10_000): Promise<Buffer[]> {
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

  /** Replies that arrived and were not read yet (pushes). */
  get pending(): number {
    return this.replies.length;
  }

  close(): void {
    this.socket.destroy();
  }
}
