/** The durable Raft log: what the runtime uses. */

/** Thrown for a snapshot older than the current one; the core's class, so one catch covers both. */
export { SnapshotOutOfDateError } from '../raft/types.ts';
export { DROP_SLICE_KEYS, type EngineStats, StorageEngine } from './engine.ts';
export {
  CorruptDataError,
  InvalidWriteError,
  ShardedDirectoryError,
  StorageClosedError,
  StorageFailedError,
  StorageLockedError,
  UnknownGroupError,
  UnsupportedFormatError,
} from './errors.ts';
export { groupIdProblem, LEGACY_GROUP, MAX_GROUP_ID } from './keys.ts';
export { LevelStorage } from './level-storage.ts';
export type { SaveRequest } from './memory-log.ts';
export type { LevelStorageOptions, SnapshotInfo, StorageLogger, StorageStats } from './options.ts';
export { clusterIdProblem } from './records.ts';
