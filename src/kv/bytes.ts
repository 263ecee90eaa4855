/**
 * Byte-level helpers shared by the log codec and the snapshot format.
 *
 * Keys and values live in memory as "binary strings": one JS char per byte (latin1). V8 stores
 * those as one-byte strings, about half the footprint of a Uint8Array per value, they are
 * immutable (so a snapshot can keep a reference instead of a copy) and APPEND becomes an O(1)
 * rope concatenation.
 */
import { Buffer } from 'node:buffer';

/** Bytes to a binary string (one char per byte). */
export function toBinary(b: Uint8Array): string {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return buf.toString('latin1', 0, buf.length);
}

/** A binary string back to bytes. */
export function fromBinary(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Bytes needed by `writeUvarint(n)`. */
export function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Zigzag-maps a signed safe integer (|n| <= 2^52) to an unsigned one. */
export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Writes into a buffer sized in advance by the caller (no bounds growth, no copies). */
export class ByteWriter {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  u8(n: number): void {
    this.buf[this.pos++] = n;
  }

  uvarint(n: number): void {
    const buf = this.buf;
    while (n >= 0x80) {
      buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[this.pos++] = n;
  }

  svarint(n: number): void {
    this.uvarint(zigzag(n));
  }

  i64(n: bigint): void {
    this.buf.writeBigInt64LE(n, this.pos);
    this.pos += 8;
  }

  /** A double, 8 bytes little-endian (a sorted set's score in a snapshot). */
  f64(n: number): void {
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
  }

  /** Length-prefixed bytes. */
  bytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Length-prefixed binary string. */
  binary(s: string): void {
    this.uvarint(s.length);
    this.pos += this.buf.write(s, this.pos, s.length, 'latin1');
  }
}

/** Raised by ByteReader when the input ends early; callers turn it into their own error type. */
export class ShortInputError extends Error {
  override name = 'ShortInputError';
}

/** Reads the formats ByteWriter writes. `bytes()` returns views into the input, not copies. */
export class ByteReader {
  pos: number;
  readonly end: number;
  readonly buf: Buffer;

  constructor(input: Uint8Array, start = 0, end = input.length) {
    this.buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw new ShortInputError('input ends inside a byte field');
    return this.buf[this.pos++];
  }

  uvarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new ShortInputError('input ends inside a varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) break;
        return result;
      }
      scale *= 0x80;
    }
    throw new RangeError('varint exceeds 2^53');
  }

  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  i64(): bigint {
    if (this.end - this.pos < 8) throw new ShortInputError('input ends inside an int64');
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  f64(): number {
    if (this.end - this.pos < 8) throw new ShortInputError('input ends inside a double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Length-prefixed bytes, as a view into the input. */
  bytes(): Buffer {
    const n = this.uvarint();
    if (this.end - this.pos < n) throw new ShortInputError('input ends inside a byte string');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-prefixed binary string (copied out of the input). */
  binary(): string {
    const n = this.uvarint();
    if (this.end - this.pos < n) throw new ShortInputError('input ends inside a byte string');
    const s = this.buf.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}
