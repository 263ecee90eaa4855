/** The durable Raft log: what the runtime uses. */
export {
  CorruptDataError,
  InvalidWriteError,
  StorageClosedError,
  StorageFailedError,
  StorageLockedError,
  UnsupportedFormatError,
} from './errors.ts';
/** Thrown for a snapshot older than the current one; the core's class, so one catch covers both. */
export { SnapshotOutOfDateError } from '../raft/types.ts';
export { LevelStorage, type LevelStorageOptions, type SnapshotInfo, type StorageLogger, type StorageStats } from './level-storage.ts';
export type { SaveRequest } from './memory-log.ts';
export { clusterIdProblem } from './records.ts';
