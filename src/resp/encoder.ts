/**
 * Reply encoding for RESP2 and RESP3 into one growable buffer per connection.
 *
 * Replies are appended as commands finish and handed to the socket in one write per batch
 * (`flush`), never one small write per reply. The buffer is reused: bytes handed to the sink
 * stay untouched until the sink calls `release`, and a second buffer takes over meanwhile, so
 * a slow socket never sees its pending bytes overwritten. Large bulk payloads skip the copy
 * and go to the sink by reference between two buffer segments (the socket writev's them).
 */
import { formatScore } from '../kv/structs/float.ts';
import { NestedManyReplyError } from './errors.ts';
import type { Reply } from './reply.ts';

export type RespVersion = 2 | 3;

/**
 * Receives encoded bytes in order. `release`, when given, must be called once the chunk's memory
 * may be reused (for a socket: in the write callback). Payload buffers passed by reference come
 * with `release` null.
 */
export type ByteSink = (chunk: Buffer, release: (() => void) | null) => void;

export interface WriterOptions {
  /** Size of a fresh buffer. */
  initialSize?: number;
  /** A buffer grown beyond this is dropped after use instead of kept. */
  maxRetainedSize?: number;
  /** Buffer payloads at least this long are written by reference, not copied. */
  directThreshold?: number;
}

const CRLF = '\r\n';
/** Bulk payloads shorter than this are encoded by `smallBulk` (two length digits at most). */
const SMALL_BULK = 64;

/**
 * C's printf("%.17g"), which Redis 7.0 uses for doubles (RESP3 `,` and RESP2 bulk): the sorted
 * sets' formatter, which also rounds exact ties half to even as glibc does (issue 14).
 */
export const formatDouble = formatScore;

function sanitizeLine(s: string): string {
  return s.includes('\r') || s.includes('\n') ? s.replace(/[\r\n]/g, ' ') : s;
}

function sanitizeLineBytes(b: Buffer): Buffer {
  if (!b.includes(0x0d) && !b.includes(0x0a)) return b;
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) if (out[i] === 0x0d || out[i] === 0x0a) out[i] = 0x20;
  return out;
}

/** A buffer and how many of its handed-out segments the sink still holds. */
class Slab {
  inFlight = 0;
  constructor(readonly buf: Buffer) {}
}

export class ReplyWriter {
  private readonly initialSize: number;
  private readonly maxRetained: number;
  private readonly direct: number;
  private slab: Slab;
  private spare: Slab | null = null;
  /** buf[start, len) is encoded but not yet handed to the sink. */
  private start = 0;
  private len = 0;

  constructor(
    private readonly sink: ByteSink,
    opts: WriterOptions = {},
  ) {
    this.initialSize = opts.initialSize ?? 16 * 1024;
    this.maxRetained = opts.maxRetainedSize ?? 1024 * 1024;
    this.direct = opts.directThreshold ?? 16 * 1024;
    this.slab = new Slab(Buffer.allocUnsafeSlow(this.initialSize));
  }

  /** Bytes encoded and not yet flushed. */
  get buffered(): number {
    return this.len - this.start;
  }

  /** Appends one reply in the given protocol version. */
  write(reply: Reply, proto: RespVersion): void {
    if (reply.t === 'many') for (const r of reply.v) this.write(r, proto);
    else this.encode(reply, proto);
  }

  /** Hands everything encoded so far to the sink. */
  flush(): void {
    if (this.len === this.start) return;
    const slab = this.slab;
    const chunk = slab.buf.subarray(this.start, this.len);
    this.start = this.len;
    slab.inFlight++;
    this.sink(chunk, () => this.release(slab));
  }

  private release(slab: Slab): void {
    slab.inFlight--;
    if (slab.inFlight > 0) return;
    if (slab === this.slab) {
      if (this.start === this.len) {
        // Idle: rewind, or give back a buffer that grew for one huge reply.
        if (slab.buf.length > this.maxRetained) this.slab = new Slab(Buffer.allocUnsafeSlow(this.initialSize));
        this.start = 0;
        this.len = 0;
      }
    } else if (this.spare === null && slab.buf.length <= this.maxRetained) {
      this.spare = slab;
    }
  }

  /** Makes room for n more bytes at `len` without touching bytes the sink still holds. */
  private reserve(n: number): void {
    const cur = this.slab;
    if (this.start === this.len && cur.inFlight === 0) {
      this.start = 0;
      this.len = 0;
    }
    if (this.len + n <= cur.buf.length) return;
    const pending = this.len - this.start;
    const need = pending + n;
    let next: Slab;
    if (this.spare !== null && this.spare.buf.length >= need) {
      next = this.spare;
      this.spare = null;
    } else {
      next = new Slab(Buffer.allocUnsafeSlow(Math.max(need, this.initialSize, Math.min(cur.buf.length * 2, need * 2))));
    }
    cur.buf.copy(next.buf, 0, this.start, this.len);
    this.slab = next;
    this.start = 0;
    this.len = pending;
    if (cur.inFlight === 0 && this.spare === null && cur.buf.length <= this.maxRetained) this.spare = cur;
  }

  private ascii(s: string): void {
    this.reserve(s.length);
    this.len += this.slab.buf.write(s, this.len, 'latin1');
  }

  private bytes(b: Buffer): void {
    if (b.length >= this.direct) {
      this.flush();
      this.sink(b, null);
      return;
    }
    this.reserve(b.length);
    b.copy(this.slab.buf, this.len);
    this.len += b.length;
  }

  /** `<prefix><len>\r\n<payload>\r\n`, the shape of bulk, verbatim and blob strings. */
  private blob(prefix: string, payload: Buffer | string, format?: string): void {
    const extra = format === undefined ? 0 : 4;
    if (typeof payload === 'string') {
      const n = Buffer.byteLength(payload);
      const head = `${prefix}${n + extra}${CRLF}${format === undefined ? '' : `${format}:`}`;
      this.reserve(head.length + n + 2);
      const buf = this.slab.buf;
      this.len += buf.write(head, this.len, 'latin1');
      this.len += buf.write(payload, this.len, 'utf8');
      this.len += buf.write(CRLF, this.len, 'latin1');
      return;
    }
    this.ascii(`${prefix}${payload.length + extra}${CRLF}${format === undefined ? '' : `${format}:`}`);
    this.bytes(payload);
    this.ascii(CRLF);
  }

  /**
   * `$<len>\r\n<payload>\r\n` for a short Buffer, byte by byte: the GET reply, where a
   * template string and three native writes would cost more than the bytes themselves.
   */
  private smallBulk(b: Buffer): void {
    const n = b.length;
    this.reserve(n + 7);
    const out = this.slab.buf;
    let p = this.len;
    out[p++] = 0x24;
    if (n >= 10) out[p++] = 0x30 + Math.floor(n / 10);
    out[p++] = 0x30 + (n % 10);
    out[p++] = 0x0d;
    out[p++] = 0x0a;
    for (let i = 0; i < n; i++) out[p++] = b[i];
    out[p++] = 0x0d;
    out[p++] = 0x0a;
    this.len = p;
  }

  /**
   * `$<len>\r\n<bytes>\r\n` from a binary string: copied straight into the buffer, or, when
   * large, into a Buffer of its own that goes to the sink by reference. This is the one copy
   * of a GET's value, made only once the reply is due to the socket.
   */
  private binary(s: string): void {
    const n = s.length;
    if (n >= this.direct) {
      this.ascii(`$${n}${CRLF}`);
      this.flush();
      this.sink(Buffer.from(s, 'latin1'), null);
      this.ascii(CRLF);
      return;
    }
    this.reserve(n + 16);
    const buf = this.slab.buf;
    if (n < SMALL_BULK) {
      // As smallBulk: byte by byte, no header string for a short value.
      let p = this.len;
      buf[p++] = 0x24;
      if (n >= 10) buf[p++] = 0x30 + Math.floor(n / 10);
      buf[p++] = 0x30 + (n % 10);
      buf[p++] = 0x0d;
      buf[p++] = 0x0a;
      for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
      buf[p++] = 0x0d;
      buf[p++] = 0x0a;
      this.len = p;
      return;
    }
    this.len += buf.write(`$${n}${CRLF}`, this.len, 'latin1');
    this.len += buf.write(s, this.len, 'latin1');
    buf[this.len++] = 0x0d;
    buf[this.len++] = 0x0a;
  }

  private line(prefix: string, text: string): void {
    const n = Buffer.byteLength(text);
    this.reserve(prefix.length + n + 2);
    const buf = this.slab.buf;
    this.len += buf.write(prefix, this.len, 'latin1');
    this.len += buf.write(text, this.len, 'utf8');
    this.len += buf.write(CRLF, this.len, 'latin1');
  }

  private encode(r: Reply, proto: RespVersion): void {
    switch (r.t) {
      case 'simple':
        this.line('+', sanitizeLine(r.v));
        return;
      case 'error':
        if (typeof r.v === 'string') {
          this.line('-', sanitizeLine(r.v));
        } else {
          this.ascii('-');
          this.bytes(sanitizeLineBytes(r.v));
          this.ascii(CRLF);
        }
        return;
      case 'int':
        this.ascii(`:${r.v}${CRLF}`);
        return;
      case 'bulk':
        if (typeof r.v !== 'string' && r.v.length < SMALL_BULK) this.smallBulk(r.v);
        else this.blob('$', r.v);
        return;
      case 'binary':
        this.binary(r.v);
        return;
      case 'null':
        this.ascii(proto === 3 ? `_${CRLF}` : `$-1${CRLF}`);
        return;
      case 'nullArray':
        this.ascii(proto === 3 ? `_${CRLF}` : `*-1${CRLF}`);
        return;
      case 'array':
        this.aggregate('*', r.v, proto);
        return;
      case 'set':
        this.aggregate(proto === 3 ? '~' : '*', r.v, proto);
        return;
      case 'push':
        this.aggregate(proto === 3 ? '>' : '*', r.v, proto);
        return;
      case 'map':
        this.ascii(proto === 3 ? `%${r.v.length}${CRLF}` : `*${r.v.length * 2}${CRLF}`);
        for (const [k, v] of r.v) {
          this.encode(k, proto);
          this.encode(v, proto);
        }
        return;
      case 'pairs':
        this.ascii(proto === 3 ? `*${r.v.length}${CRLF}` : `*${r.v.length * 2}${CRLF}`);
        for (const [k, v] of r.v) {
          if (proto === 3) this.ascii(`*2${CRLF}`);
          this.encode(k, proto);
          this.encode(v, proto);
        }
        return;
      case 'double':
        if (proto === 3) this.ascii(`,${formatDouble(r.v)}${CRLF}`);
        else this.blob('$', formatDouble(r.v));
        return;
      case 'bool':
        this.ascii(proto === 3 ? (r.v ? `#t${CRLF}` : `#f${CRLF}`) : r.v ? `:1${CRLF}` : `:0${CRLF}`);
        return;
      case 'verbatim':
        if (proto === 3) this.blob('=', r.v, r.format);
        else this.blob('$', r.v);
        return;
      case 'raw':
        this.bytes(r.v);
        return;
      case 'many':
        throw new NestedManyReplyError();
    }
  }

  private aggregate(prefix: string, items: readonly Reply[], proto: RespVersion): void {
    this.ascii(`${prefix}${items.length}${CRLF}`);
    for (const item of items) this.encode(item, proto);
  }
}

/** What a reply waiting in a queue is charged for an object or an aggregate's element. */
const REPLY_OVERHEAD = 16;

/**
 * The memory a reply holds of its own while it waits to be encoded (CLIENT LIST `omem`): its
 * payload bytes, plus a small charge per object. A `binary` reply shares the keyspace's string
 * and holds only its object; aggregates are walked.
 */
export function heldBytes(r: Reply): number {
  switch (r.t) {
    case 'binary':
    case 'null':
    case 'nullArray':
    case 'int':
    case 'double':
    case 'bool':
      return REPLY_OVERHEAD;
    case 'bulk':
    case 'simple':
    case 'error':
    case 'verbatim':
    case 'raw':
      return REPLY_OVERHEAD + r.v.length;
    case 'map':
    case 'pairs': {
      let n = REPLY_OVERHEAD;
      for (const [k, v] of r.v) n += heldBytes(k) + heldBytes(v);
      return n;
    }
    case 'array':
    case 'set':
    case 'push':
    case 'many': {
      let n = REPLY_OVERHEAD;
      for (const x of r.v) n += heldBytes(x);
      return n;
    }
  }
}

/** Encodes replies into one fresh Buffer (tests, tools, pre-encoded constants). */
export function encodeReplies(replies: readonly Reply[], proto: RespVersion): Buffer {
  const parts: Buffer[] = [];
  const writer = new ReplyWriter((chunk) => parts.push(Buffer.from(chunk)));
  for (const r of replies) writer.write(r, proto);
  writer.flush();
  return Buffer.concat(parts);
}

export function encodeReply(reply: Reply, proto: RespVersion): Buffer {
  return encodeReplies([reply], proto);
}
