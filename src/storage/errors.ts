/**
 * Storage failures, one class each, so the runtime can tell "refuse to start" (corruption, lock)
 * from "stop serving" (a failed write) from "caller bug" (an invalid write).
 */

/**
 * The data on disk is not a valid Raft log. The node must not start: serving it could lose or
 * invent acknowledged writes. The message names the data directory, the group (when the damage
 * is in one group's records; other groups in the directory are unaffected, engine.ts) and the
 * index or record.
 */
export class CorruptDataError extends Error {
  override name = 'CorruptDataError';
  readonly dir: string;
  /** What is wrong, without the directory. */
  readonly detail: string;
  /** The log index at fault, when the damage can be pinned to one. */
  readonly index: number | undefined;
  /** The Raft group whose records are damaged; undefined when LevelDB itself is. */
  readonly group: number | undefined;
  constructor(dir: string, detail: string, index?: number, group?: number) {
    super(`corrupt Raft log in ${dir}${group === undefined ? '' : ` (group ${group})`}: ${detail}`);
    this.dir = dir;
    this.detail = detail;
    this.index = index;
    this.group = group;
  }
}

/** Another process (or another LevelStorage in this one) holds the directory's lock. */
export class StorageLockedError extends Error {
  override name = 'StorageLockedError';
  constructor(dir: string) {
    super(`Raft log in ${dir} is locked by another process`);
  }
}

/** The directory holds a store written by an incompatible version of RaftKV. */
export class UnsupportedFormatError extends Error {
  override name = 'UnsupportedFormatError';
  constructor(dir: string, version: number, supported: number, group?: number) {
    super(`Raft log in ${dir}${group === undefined ? '' : ` (group ${group})`} has format version ${version}; this build reads version ${supported}`);
  }
}

/**
 * A single-group open of a directory that holds a sharded cluster (a metadata group, group 0):
 * opening group 1 alone would serve one shard's keys as if they were all of them.
 */
export class ShardedDirectoryError extends Error {
  override name = 'ShardedDirectoryError';
  constructor(readonly dir: string) {
    super(`${dir} holds a sharded cluster (a slot map and several groups); it is opened as one, never as a single group`);
  }
}

/** The engine holds no such group (engine.ts). */
export class UnknownGroupError extends Error {
  override name = 'UnknownGroupError';
  constructor(dir: string, group: number) {
    super(`Raft log in ${dir} has no group ${group}`);
  }
}

/** Used after close(), of the engine or of one group's view. */
export class StorageClosedError extends Error {
  override name = 'StorageClosedError';
  constructor(dir: string, group?: number) {
    super(`Raft log in ${dir}${group === undefined ? '' : ` (group ${group})`} is closed`);
  }
}

/**
 * A LevelDB write failed (disk full, I/O error). The in-memory log is then ahead of the disk, so
 * every later write fails too: the node must restart and recover from what is durable.
 */
export class StorageFailedError extends Error {
  override name = 'StorageFailedError';
  constructor(dir: string, cause: unknown) {
    super(`write to Raft log in ${dir} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/**
 * A write that would break a log invariant (a gap, decreasing terms, commit beyond the log,
 * compaction past the snapshot). It is rejected before anything changes, so the store stays valid.
 */
export class InvalidWriteError extends Error {
  override name = 'InvalidWriteError';
}
