/**
 * The storage's options, statistics and the host interface between a group's storage
 * (level-storage.ts) and the engine that holds it (engine.ts).
 */
import type { SnapshotMeta } from '../raft/types.ts';
import type { LevelStorage } from './level-storage.ts';
import type { LevelDb } from './recover.ts';
import type { WriteQueue } from './write-queue.ts';

/** Satisfied by a pino logger. */
export interface StorageLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Options of an engine, applied to each of its groups. */
export interface LevelStorageOptions {
  logger?: StorageLogger;
  /** fsync every batch (default true). Turn off only where durability is not under test. */
  syncWrites?: boolean;
  /** Size of one stored piece of snapshot data, in bytes (default 1 MiB). */
  chunkSize?: number;
  /** How long snapshot data read back from disk stays in memory after its last use (default 30 s). */
  snapshotLingerMs?: number;
}

/** What createSnapshot recorded. */
export interface SnapshotInfo {
  meta: SnapshotMeta;
  /** Size of the data. */
  bytes: number;
}

export interface StorageStats {
  firstIndex: number;
  lastIndex: number;
  /** Retained entries, and their size as the core measures it (16 bytes + data each). */
  entries: number;
  bytes: number;
  snapshotIndex: number;
  /** Retained entries with their data in memory (and those bytes), and those out of it (memory-log.ts trim). */
  memory: { entries: number; evicted: number; bytes: number };
  /** Duration of the most recent batch carrying this group's writes (fsync included), in ms. */
  lastFsyncMs: number;
  /** LevelDB batches since open that carried this group's writes (shared with other groups). */
  batches: number;
}

/** What a group's storage needs of the engine that holds it (engine.ts). */
export interface GroupHost {
  readonly dir: string;
  /** Reads only: every write goes through the queue. */
  readonly db: LevelDb;
  /** The engine's one group commit, shared by all its groups. */
  readonly queue: WriteQueue;
  /** The view closed (its writes are durable): the engine forgets it, or closes if it owns it. */
  release(view: LevelStorage): Promise<void>;
}

export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const DEFAULT_SNAPSHOT_LINGER_MS = 30_000;
export const silent: StorageLogger = { info() {}, warn() {}, error() {} };
