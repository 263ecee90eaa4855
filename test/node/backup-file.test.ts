/**
 * The backup file's reader (node/backup-file.ts) against hostile and damaged files: anyone can
 * compute a SHA-256, so a file whose checksum holds must still be refused for a header that
 * lies, with a BackupFileError naming the problem, never a crash or a large allocation.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKUP_MAGIC, BackupFileError, type BackupHeader, decodeLru, encodeBackupHeader, encodeLru, verifyBackup } from '../../src/node/backup-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'raftkv-backup-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header: BackupHeader = {
  clusterId: 'c1',
  index: 10,
  term: 2,
  members: [{ id: 'n1', host: '127.0.0.1', port: 6379, httpPort: 16379 }],
  voters: ['n1'],
  learners: [],
  keyCount: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  node: 'n1',
  bodyFormat: 1,
  bodyBytes: 5,
  lruBytes: 0,
};

let n = 0;
/** A file of `parts` with a correct checksum. */
function file(...parts: Buffer[]): string {
  const body = Buffer.concat(parts);
  const path = join(dir, `f${n++}`);
  writeFileSync(path, Buffer.concat([body, createHash('sha256').update(body).digest()]));
  return path;
}

describe('backup file', () => {
  it('reads back what was written, and the LRU section round-trips', async () => {
    const keys = ['a', '', '\u00ff\u0000k'];
    const lru = Buffer.concat([...encodeLru(keys, 4)]);
    const path = file(encodeBackupHeader({ ...header, lruBytes: lru.length }), Buffer.from('12345'), lru);
    const layout = await verifyBackup(path);
    expect(layout.header).toEqual({ ...header, lruBytes: lru.length });
    expect([...decodeLru(lru)].map((k) => k.toString('latin1'))).toEqual(keys);
  });

  it('refuses headers that lie, though the checksum holds', async () => {
    const cases: [Partial<Record<keyof BackupHeader, unknown>>, RegExp][] = [
      [{ term: 0 }, /not a snapshot's/],
      [{ index: -1 }, /index is not a count/],
      [{ keyCount: 1.5 }, /keyCount is not a count/],
      [{ bodyBytes: 4 }, /bytes after the end/],
      [{ bodyBytes: 2 ** 40 }, /truncated/],
      [{ members: [{ id: 'bad id!', host: 'x', port: 1, httpPort: 2 }] }, /members/],
      [{ voters: [1] }, /voters is not a list/],
      [{ clusterId: 7 }, /clusterId is not a string/],
    ];
    for (const [change, why] of cases) {
      const path = file(encodeBackupHeader({ ...header, ...change } as BackupHeader), Buffer.from('12345'));
      await expect(verifyBackup(path), JSON.stringify(change)).rejects.toThrow(why);
    }
  });

  it('refuses a header that is no JSON or claims a huge size, without reading it', async () => {
    const prefix = (len: number) => {
      const b = Buffer.alloc(13);
      BACKUP_MAGIC.copy(b);
      b.writeUInt8(1, 8);
      b.writeUInt32BE(len, 9);
      return b;
    };
    await expect(verifyBackup(file(prefix(3), Buffer.from('{x}')))).rejects.toThrow(/not JSON/);
    await expect(verifyBackup(file(prefix(0xffffffff)))).rejects.toThrow(/a header of 4294967295 bytes/);
    const v2 = prefix(2);
    v2.writeUInt8(2, 8);
    await expect(verifyBackup(file(v2, Buffer.from('{}')))).rejects.toThrow(/format version 2/);
    await expect(verifyBackup(join(dir, 'missing'))).rejects.toThrow(BackupFileError);
    const short = join(dir, 'short');
    writeFileSync(short, BACKUP_MAGIC);
    await expect(verifyBackup(short)).rejects.toThrow(/truncated: 8 bytes/);
  });
});
