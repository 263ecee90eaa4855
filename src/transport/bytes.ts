/**
 * Bounds-checked byte reading and exact-size writing for the peer wire format.
 *
 * Everything that decodes bytes from a peer goes through `Reader`, whose only failure is a
 * `CodecError`: a hostile or buggy peer can make us drop its frame, never crash the process.
 * Writers are sized up front (callers compute the exact length first), so encoding never
 * reallocates or copies twice.
 */

export const CodecErrorReason = {
  /** The frame was written by a different protocol version. */
  Version: 'version',
  /** The frame ends before a field it announces. */
  Truncated: 'truncated',
  /** An unknown frame kind, message type or entry type. */
  BadType: 'bad-type',
  /** Structurally wrong: trailing bytes, bad flags, out-of-range numbers, invalid UTF-8. */
  Malformed: 'malformed',
} as const;
export type CodecErrorReason = (typeof CodecErrorReason)[keyof typeof CodecErrorReason];

export class CodecError extends Error {
  override name = 'CodecError';
  constructor(
    readonly reason: CodecErrorReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** Bytes a LEB128 varint of `v` takes (v a non-negative safe integer). */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  let rest = Math.floor(v / 0x10000000);
  while (rest > 0) {
    n++;
    rest = Math.floor(rest / 0x80);
  }
  return n;
}

/** Byte length of `s` in UTF-8, without allocating for the common ASCII node ids. */
export function utf8Size(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  }
  return s.length;
}

/** Wire size of a length-prefixed string. */
export function strSize(s: string): number {
  const n = utf8Size(s);
  return varintSize(n) + n;
}

/** Wire size of length-prefixed bytes. */
export function bytesSize(b: Uint8Array): number {
  return varintSize(b.length) + b.length;
}

export function checkUint(v: number, field: string): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new CodecError(CodecErrorReason.Malformed, `${field} must be a non-negative safe integer, got ${v}`);
  }
}

export class Writer {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    const buf = this.buf;
    while (v >= 0x80000000) {
      // Above 31 bits bitwise operators would truncate, so peel 7 bits arithmetically.
      buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    while (v >= 0x80) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  raw(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.raw(b);
  }

  str(s: string): void {
    const n = utf8Size(s);
    this.varint(n);
    if (n === s.length) {
      const buf = this.buf;
      for (let i = 0; i < n; i++) buf[this.pos + i] = s.charCodeAt(i);
    } else {
      this.buf.write(s, this.pos, n, 'utf8');
    }
    this.pos += n;
  }

  /** The written bytes; callers size writers exactly, so this is normally the whole buffer. */
  finish(): Buffer {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Longest string we accept from a peer; node and cluster ids are short. */
const MAX_STR = 1024;

export class Reader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    readonly end = bytes.length,
  ) {
    this.pos = pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, field: string): void {
    if (this.end - this.pos < n) {
      throw new CodecError(CodecErrorReason.Truncated, `${field} needs ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.pos++];
  }

  varint(field: string): number {
    const bytes = this.bytes;
    let result = 0;
    let scale = 1;
    // 8 groups of 7 bits cover 56 bits, enough for any safe integer.
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new CodecError(CodecErrorReason.Truncated, `${field} varint`);
      const b = bytes[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) {
          throw new CodecError(CodecErrorReason.Malformed, `${field} exceeds the safe integer range`);
        }
        return result;
      }
      scale *= 0x80;
    }
    throw new CodecError(CodecErrorReason.Malformed, `${field} varint is too long`);
  }

  /** A view into the frame (zero-copy): it keeps the frame's memory alive while referenced. */
  view(n: number, field: string): Uint8Array {
    this.need(n, field);
    const b = this.bytes;
    const out = new Uint8Array(b.buffer, b.byteOffset + this.pos, n);
    this.pos += n;
    return out;
  }

  bytesField(field: string): Uint8Array {
    return this.view(this.varint(field), field);
  }

  str(field: string): string {
    const n = this.varint(field);
    if (n > MAX_STR) throw new CodecError(CodecErrorReason.Malformed, `${field} is ${n} bytes long`);
    this.need(n, field);
    const bytes = this.bytes;
    const start = this.pos;
    this.pos += n;
    let ascii = true;
    for (let i = start; i < start + n; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      let s = '';
      for (let i = start; i < start + n; i++) s += String.fromCharCode(bytes[i]);
      return s;
    }
    try {
      return utf8.decode(bytes.subarray(start, start + n));
    } catch {
      throw new CodecError(CodecErrorReason.Malformed, `${field} is not valid UTF-8`);
    }
  }

  /** A count of items each at least `minItemSize` bytes long, checked against what is left. */
  count(minItemSize: number, field: string): number {
    const n = this.varint(field);
    if (n * minItemSize > this.remaining) {
      throw new CodecError(CodecErrorReason.Truncated, `${field} announces ${n} items, ${this.remaining} bytes left`);
    }
    return n;
  }

  done(what: string): void {
    if (this.pos !== this.end) {
      throw new CodecError(CodecErrorReason.Malformed, `${this.end - this.pos} trailing bytes after ${what}`);
    }
  }
}
