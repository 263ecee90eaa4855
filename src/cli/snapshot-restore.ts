/**
 * Restoring a backup file into a new member's data folder, as `etcdutl snapshot restore` does:
 * the folder holds the backup's keyspace as its Raft snapshot (same index and term), with the
 * configuration and address book replaced by the new cluster's `--peers`, and a new cluster
 * identity. Used by `raftkv snapshot restore` and `raftkv cluster --restore` (`npm start`).
 *
 * Nothing is written unless the whole file checks out (its checksum, and its keyspace image
 * decoded in full), and the folder appears only complete: it is built under a temporary name
 * next to the target, fsynced and renamed at the end.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { KvStore, snapshotImageProblem } from '../kv/index.ts';
import { RESTORED_LRU_FILE } from '../node/backup.ts';
import { BackupFileError, type BackupLayout, bodyStream, readPart, verifyBackup } from '../node/backup-file.ts';
import type { PeerAddress } from '../node/config.ts';
import { Members } from '../node/members.ts';
import { envelopeHeader } from '../node/snapshotter.ts';
import { LevelStorage } from '../storage/index.ts';

/**
 * The file's layout once its checksum holds and its keyspace image decodes, with the index and
 * key count its header claims. BackupFileError otherwise. Holds the keyspace in memory once,
 * as the restored node will.
 */
export async function checkBackup(file: string): Promise<BackupLayout> {
  const layout = await verifyBackup(file);
  const { header } = layout;
  const kv = new KvStore();
  try {
    await kv.restore(bodyStream(file, layout));
  } catch (err) {
    throw new BackupFileError(`its keyspace image cannot be read: ${(err as Error).message}`);
  }
  if (kv.appliedIndex !== header.index) throw new BackupFileError(`its image is at index ${kv.appliedIndex}, its header says ${header.index}`);
  if (kv.size !== header.keyCount) throw new BackupFileError(`its image holds ${kv.size} keys, its header says ${header.keyCount}`);
  return layout;
}

/**
 * The restored cluster's id: new, yet the same for every member restored from one file with
 * one member list (each member is restored on its own machine), as etcd derives its cluster ID
 * from --initial-cluster and --initial-cluster-token.
 */
export function restoredClusterId(layout: BackupLayout, peers: readonly PeerAddress[]): string {
  const list = [...peers].sort((a, b) => a.id.localeCompare(b.id)).map((p) => `${p.id}=${p.host}:${p.port}:${p.httpPort}:${p.tlsPort ?? 0}`);
  const h = createHash('sha256').update(`raftkv restore\0${layout.header.clusterId}\0${layout.header.index}\0${layout.header.createdAt}\0${list.join(',')}`);
  return h.digest('hex').slice(0, 16);
}

/** Why `dir` cannot be restored into (it holds something), or undefined. */
export function dataDirProblem(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  try {
    if (readdirSync(dir).length === 0) return undefined;
  } catch (err) {
    return `${dir} cannot be used: ${(err as Error).message}`;
  }
  return `${dir} already holds data; restore into a new folder (or remove it first)`;
}

export interface RestoreTarget {
  dataDir: string;
  peers: PeerAddress[];
  clusterId: string;
}

/**
 * Writes `target.dataDir` from a checked backup (checkBackup). Refuses a folder that holds
 * anything. On failure nothing is left behind.
 */
export async function writeDataDir(file: string, layout: BackupLayout, target: RestoreTarget): Promise<void> {
  const dir = resolve(target.dataDir);
  const problem = dataDirProblem(dir);
  if (problem) throw new BackupFileError(problem);
  const { header } = layout;
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.restoring-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const env = envelopeHeader(new Members(target.peers).encode());
    const data = Buffer.allocUnsafe(env.length + header.bodyBytes);
    data.set(env, 0);
    await readPart(file, layout.bodyStart, header.bodyBytes, data, env.length);
    // The file was verified before; this catches a change since, by the image's own crc32.
    const imageProblem = await snapshotImageProblem(data.subarray(env.length));
    if (imageProblem) throw new BackupFileError(`the file changed while it was restored: ${imageProblem}`);
    const storage = await LevelStorage.open(tmp);
    try {
      // First, as a bootstrap stores it (node/cluster-id.ts): the node then presents it to peers.
      await storage.setClusterId(target.clusterId);
      const conf = { voters: target.peers.map((p) => p.id), learners: [] };
      await storage.save({
        snapshot: { meta: { index: header.index, term: header.term, conf }, data },
        hardState: { term: header.term, vote: '', commit: header.index },
      });
    } finally {
      await storage.close();
    }
    if (header.lruBytes > 0) {
      const lru = Buffer.allocUnsafe(8 + header.lruBytes);
      lru.writeBigUInt64BE(BigInt(header.index), 0);
      await readPart(file, layout.lruStart, header.lruBytes, lru, 8);
      writeDurably(join(tmp, RESTORED_LRU_FILE), lru);
    }
    fsyncDir(tmp);
    if (existsSync(dir)) rmdirSync(dir); // empty (checked above)
    renameSync(tmp, dir);
    fsyncDir(dirname(dir));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function writeDurably(path: string, data: string | Buffer): void {
  writeFileSync(path, data, { mode: 0o600 });
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
