/**
 * How snapshot data is cut into stored chunks (records.ts has the keys and the record format).
 * A received snapshot arrives whole and is cut into views; a local one is streamed from the
 * state machine and re-cut as it arrives, so its image is never whole in memory.
 */
import { crc32 } from 'node:zlib';
import { InvalidWriteError } from './errors.ts';
import type { KeySpace } from './keys.ts';
import { encodeChunk, type StoredSnapMeta } from './records.ts';
import type { WriteOp } from './write-queue.ts';

export function chunkPut(ks: KeySpace, snapIndex: number, n: number, piece: Uint8Array): WriteOp {
  const key = ks.chunk(snapIndex, n);
  return { type: 'put', key, value: encodeChunk(key, piece) };
}

/** Cuts whole snapshot data into chunk-sized views (no copies) and fills in `meta`'s layout and CRC. */
export function layOut(meta: StoredSnapMeta, data: Uint8Array): Uint8Array[] {
  const size = meta.chunkSize;
  const pieces = Array.from({ length: Math.ceil(data.byteLength / size) }, (_, n) => data.subarray(n * size, (n + 1) * size));
  meta.dataLength = data.byteLength;
  meta.chunkCount = pieces.length;
  meta.dataCrc = 0;
  for (const piece of pieces) meta.dataCrc = crc32(piece, meta.dataCrc);
  return pieces;
}

/**
 * Streams `source` into chunks of `meta.chunkSize` bytes, one `write` per chunk, with one write
 * in flight while the next chunk fills. Each source chunk is copied before the next is requested,
 * so the source may refill one buffer. `meta` (length, CRC, chunk count) is updated as chunks go
 * out, so after a failure its chunkCount still covers every chunk that may have been written.
 */
export async function writeChunks(
  ks: KeySpace,
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  meta: StoredSnapMeta,
  write: (op: WriteOp) => Promise<void>,
): Promise<void> {
  const size = meta.chunkSize;
  const piece = Buffer.allocUnsafe(size);
  let fill = 0;
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const bytes = piece.subarray(0, fill);
    meta.dataCrc = crc32(bytes, meta.dataCrc);
    const op = chunkPut(ks, meta.index, meta.chunkCount++, bytes); // a copy: the piece refills
    fill = 0;
    await writing;
    writing = write(op);
    writing.catch(() => {}); // awaited by the next flush or at the end
  };
  try {
    for await (const chunk of source) {
      if (!(chunk instanceof Uint8Array)) throw new InvalidWriteError('snapshot data chunk is not a Uint8Array');
      for (let off = 0; off < chunk.byteLength; ) {
        const n = Math.min(size - fill, chunk.byteLength - off);
        piece.set(chunk.subarray(off, off + n), fill);
        fill += n;
        off += n;
        meta.dataLength += n;
        if (fill === size) await flush();
      }
    }
    if (fill > 0) await flush();
  } finally {
    // Settled before the caller cleans up, so no chunk lands after its deletion.
    await writing.catch(() => {});
  }
  await writing;
}
