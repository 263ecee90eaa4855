/**
 * Typed failures of the kv layer. Command-level failures (a non-integer value, a bad expire
 * time, ...) are not exceptions: they are `error` results with Redis's exact text, computed at
 * apply time. These classes are for programming or data errors the runtime must handle.
 */

/** Bytes that are not a valid encoded log entry (corruption or a newer format). */
export class KvDecodeError extends Error {
  override name = 'KvDecodeError';
  constructor(reason: string) {
    super(`cannot decode kv entry: ${reason}`);
  }
}

/** An op that cannot be encoded (a value out of the representable range). */
export class KvEncodeError extends Error {
  override name = 'KvEncodeError';
  constructor(reason: string) {
    super(`cannot encode kv entry: ${reason}`);
  }
}

/** A snapshot stream that is truncated, corrupt or of an unknown format. */
export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
  constructor(reason: string) {
    super(`invalid kv snapshot: ${reason}`);
  }
}

/** A snapshot writer that was cancelled or superseded by a newer one before it finished. */
export class SnapshotAbortedError extends Error {
  override name = 'SnapshotAbortedError';
  constructor() {
    super('kv snapshot was cancelled or superseded before it finished');
  }
}

/** `apply` or a second `restore` was called while a restore is still running. */
export class RestoreInProgressError extends Error {
  override name = 'RestoreInProgressError';
  constructor() {
    super('kv store is restoring a snapshot');
  }
}

/** A string read (KvStore.get) of a key that holds a collection (issue 14). */
export class WrongTypeError extends Error {
  override name = 'WrongTypeError';
  constructor() {
    super('WRONGTYPE Operation against a key holding the wrong kind of value');
  }
}
