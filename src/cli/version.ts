/**
 * `raftkv version` (also `--version`, `-v`): what this binary is, and the format versions that
 * decide whether it can join a running cluster or open an existing data directory. A rolling
 * upgrade (docs/operations.md) compares these between the old and the new binary: a different
 * peer protocol cannot link to the old nodes (a full stop is needed), a newer storage format
 * cannot be opened by the old binary again (no downgrade after it has written).
 */
import { BACKUP_VERSION } from '../node/backup-file.ts';
import { BUILD_INFO } from '../node/build-info.ts';
import { SHARD_CODEC_VERSION } from '../shard/codec.ts';
import { FORMAT_VERSION } from '../storage/records.ts';
import { PROTOCOL_VERSION } from '../transport/codec.ts';

/** The lines `raftkv version` prints, `name value`, one per line. */
export function versionText(): string {
  return [
    `raftkv ${BUILD_INFO.version}`,
    `peer protocol ${PROTOCOL_VERSION}`,
    `storage format ${FORMAT_VERSION}`,
    `slot map format ${SHARD_CODEC_VERSION}`,
    `backup format ${BACKUP_VERSION}`,
    `node ${BUILD_INFO.nodeVersion}`,
  ].join('\n');
}
