/**
 * LevelDB itself, as the engine (engine.ts) uses it: opening a directory (with its failures
 * turned into the storage's errors) and writing one native batch.
 */
import { Level } from 'level';
import { CorruptDataError, StorageLockedError } from './errors.ts';
import { isLevelCorruption, type LevelDb } from './recover.ts';
import type { WriteOp } from './write-queue.ts';

/** Opens the LevelDB in `dir`, creating it if absent. */
export async function openLevel(dir: string): Promise<LevelDb> {
  const db: LevelDb = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  try {
    await db.open();
  } catch (err) {
    throw openError(dir, err);
  }
  return db;
}

function openError(dir: string, err: unknown): Error {
  if (isLevelCorruption(err)) {
    return new CorruptDataError(dir, `LevelDB cannot open it: ${innermost(err).message}`);
  }
  for (let e = err; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === 'LEVEL_LOCKED') return new StorageLockedError(dir);
  }
  return err instanceof Error ? err : new Error(String(err));
}

export function innermost(err: unknown): Error {
  let e = err as Error;
  while (e.cause instanceof Error) e = e.cause;
  return e;
}

/** classic-level's native batch behind abstract-level's ChainedBatch (its implementation API). */
interface NativeBatch {
  _put(key: Buffer, value: Buffer): void;
  _del(key: Buffer): void;
  _write(options: { sync: boolean }): Promise<void>;
}

/**
 * One LevelDB write batch through abstract-level's implementation API rather than the public
 * `batch()`: our keys and values are encoded Buffers already and we use no hooks, events or
 * sublevels, while the public method clones and re-validates every operation, which cost 2.3x
 * the CPU of the write itself (15.5-17.9 vs 6.7-7.0 us per 100-byte put in 20-put batches; the
 * Raft log's hottest path). That is also why groups prefix their keys by hand (keys.ts) rather
 * than through sublevels, which go through the public path. A chained batch rather than
 * `_batch(ops)`: the latter makes the native side look up `type`, `key` and `value` on every op
 * object by name, which cost another 0.3-1.0 us per put (3.0-3.6 vs 2.2-2.7 us per 80-byte put
 * in 30-put batches, CPU with the worker thread's, test/bench/level-batch.ts on the 2-core
 * bench machine).
 */
export function rawBatch(db: LevelDb, ops: WriteOp[], sync: boolean): Promise<void> {
  if (db.status !== 'open') return db.batch(ops, { sync });
  const batch = (db as unknown as { _chainedBatch(): NativeBatch })._chainedBatch();
  // It registers itself for db.close() to close; it is written at once and never closed.
  db.detachResource(batch as unknown as Parameters<LevelDb['detachResource']>[0]);
  for (const op of ops) {
    if (op.type === 'put') batch._put(op.key, op.value);
    else batch._del(op.key);
  }
  return batch._write({ sync });
}
