/**
 * The input side of a snapshot restore (snapshot.ts): chunks as they arrive (from storage or a
 * peer) or one buffer, parsed record by record without holding the whole image, and the CRC of
 * everything consumed so the trailer can be checked without a second pass.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { ByteReader, ShortInputError } from './bytes.ts';
import { SnapshotFormatError } from './errors.ts';

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Pull-based input over chunks, buffering only the unread tail; tracks the CRC of what was read. */
export class ChunkSource {
  buf: Buffer;
  pos = 0;
  private crc = 0;
  private crcFrom = 0;
  private it: AsyncIterator<Uint8Array> | undefined;

  constructor(source: AsyncIterable<Uint8Array> | Uint8Array) {
    if (source instanceof Uint8Array) {
      this.buf = asBuffer(source);
    } else {
      this.buf = Buffer.alloc(0);
      this.it = source[Symbol.asyncIterator]();
    }
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /**
   * Buffers at least twice the unread bytes (64 KiB minimum), so a record spanning many chunks
   * costs O(its size) in copies. False when the input has nothing more.
   */
  async grow(): Promise<boolean> {
    if (this.it === undefined) return false;
    const want = Math.max(2 * this.available, 64 * 1024);
    const parts = [this.buf.subarray(this.pos)];
    let total = this.available;
    this.crc = crc32(this.buf.subarray(this.crcFrom, this.pos), this.crc);
    while (total < want) {
      const r = await this.it.next();
      if (r.done) {
        this.it = undefined;
        break;
      }
      parts.push(asBuffer(r.value));
      total += r.value.length;
    }
    const grew = total > this.available;
    this.buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
    this.pos = 0;
    this.crcFrom = 0;
    return grew;
  }

  /** CRC32 of every byte consumed so far. */
  consumedCrc(): number {
    return crc32(this.buf.subarray(this.crcFrom, this.pos), this.crc);
  }

  /** Runs a synchronous parse at the current position, growing the buffer until it fits. */
  async read<T>(parse: (r: ByteReader) => T): Promise<T> {
    for (;;) {
      const r = new ByteReader(this.buf, this.pos);
      try {
        const value = parse(r);
        this.pos = r.pos;
        return value;
      } catch (err) {
        if (!(err instanceof ShortInputError)) throw err;
        if (!(await this.grow())) throw new SnapshotFormatError('truncated');
      }
    }
  }
}
