/** The durable Raft log: what the runtime uses. */
export {
  CorruptDataError,
  InvalidWriteError,
  SnapshotOutOfDateError,
  StorageClosedError,
  StorageFailedError,
  StorageLockedError,
  UnsupportedFormatError,
} from './errors.ts';
export { LevelStorage, type LevelStorageOptions, type StorageLogger, type StorageStats } from './level-storage.ts';
export type { SaveRequest } from './memory-log.ts';
