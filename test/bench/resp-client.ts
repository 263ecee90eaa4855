/**
 * A minimal pipelining RESP2 client for the benchmark: requests are written in order and
 * replies resolve a FIFO of waiters. Small on purpose so the load generator, not a library,
 * is what we measure the cost of (and it is cheap: no per-reply allocation beyond the value).
 */
import { connect, type Socket } from 'node:net';

export type Reply = string | number | Buffer | null | Error | Reply[];

export class RespClosedError extends Error {
  constructor(port: number) {
    super(`connection to 127.0.0.1:${port} closed`);
  }
}

export function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `pos`; returns undefined when the buffer holds only part of it. */
function parse(buf: Buffer, pos: number): { value: Reply; end: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = buf[pos];
  const line = buf.toString('latin1', pos + 1, eol);
  switch (type) {
    case 0x2b: // +
      return { value: line, end: eol + 2 };
    case 0x2d: // -
      return { value: new Error(line), end: eol + 2 };
    case 0x3a: // :
      return { value: Number(line), end: eol + 2 };
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return undefined;
      return { value: buf.subarray(eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: Reply[] = [];
      let p = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, p);
        if (!r) return undefined;
        items.push(r.value);
        p = r.end;
      }
      return { value: items, end: p };
    }
    default:
      throw new Error(`bad RESP type byte ${type} at ${pos}`);
  }
}

export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    const fail = () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new RespClosedError(port));
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }

  static connect(port: number, timeoutMs = 2000): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(new RespClient(s, port));
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let pos = 0;
    for (;;) {
      const r = parse(this.buf, pos);
      if (!r) break;
      pos = r.end;
      this.waiters.shift()?.resolve(r.value);
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }

  /** Sends a pre-encoded command; the promise resolves with the reply (an Error reply resolves, not rejects). */
  sendRaw(encoded: Buffer): Promise<Reply> {
    if (this.closed) return Promise.reject(new RespClosedError(this.port));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.socket.write(encoded);
    });
  }

  command(...args: (string | Buffer)[]): Promise<Reply> {
    return this.sendRaw(encodeCommand(args));
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
