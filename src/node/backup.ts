/**
 * The leader's side of a backup (`GET /v1/snapshot`, backup-file.ts for the format), and the
 * node's side of a restore: the LRU order a restored data folder carries.
 *
 * A backup is a snapshot at a linearizable point: after a ReadIndex barrier the applied index
 * covers every write acknowledged before the request, and the node makes sure its stored
 * snapshot is at least that recent (taking one if not, as it does every snapshot-entries
 * entries). The body is then streamed from that stored snapshot's chunks in LevelDB, not from
 * the live keyspace: a slow or stalled client costs no memory (the keyspace's copy-on-write
 * would grow with every write while a live writer waits for it) and never holds up the node's
 * own snapshots, and the image is never whole in memory. The node keeps snapshotting meanwhile;
 * the stream reads from a LevelDB snapshot, so the chunks it needs stay readable.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type KvStore, snapshotImageSummary } from '../kv/index.ts';
import { SnapshotOutOfDateError } from '../raft/types.ts';
import type { LevelStorage, SnapshotInfo } from '../storage/index.ts';
import { type BackupHeader, DIGEST_BYTES, decodeLru, encodeBackupHeader, encodeLru, lruBytes } from './backup-file.ts';
import type { NodeConfig } from './config.ts';
import { NotLeaderError } from './errors.ts';
import type { Logger } from './logger.ts';
import { type Member, Members } from './members.ts';
import { splitEnvelope } from './snapshotter.ts';

/** What a backup needs of the node. */
export interface BackupHost {
  /** Its cluster id (node/cluster-id.ts), once settled. */
  readonly clusterId?: string | undefined;
  /** `clusterId`: the configured id, on versions before ids were stored. */
  readonly cfg: Pick<NodeConfig, 'id'> & { readonly clusterId?: string };
  readonly storage: Pick<LevelStorage, 'snapshotMeta' | 'streamSnapshot' | 'clusterId'>;
  readonly kv: Pick<KvStore, 'lruOrder'>;
  readonly appliedIndex: number;
  isLeader(): boolean;
  leader(): Member | undefined;
  linearizableBarrier(): Promise<void>;
  snapshotNow(): Promise<SnapshotInfo>;
}

export interface Backup {
  header: BackupHeader;
  /** The file's size. */
  bytes: number;
  /** The whole file, header to checksum; return() it to stop early. */
  stream: AsyncGenerator<Uint8Array>;
}

/**
 * Opens a backup on the leader; a follower throws NotLeaderError (the HTTP layer redirects).
 * Resolves once the header is known, so that an error before the first byte is a real answer.
 */
export async function openBackup(node: BackupHost): Promise<Backup> {
  if (!node.isLeader()) throw new NotLeaderError(node.leader());
  await node.linearizableBarrier();
  const point = node.appliedIndex;
  while (node.storage.snapshotMeta().index < point) {
    // Fails when another snapshot got there first (same index): then the loop re-checks.
    await node.snapshotNow().catch((err: Error) => {
      if (!(err instanceof SnapshotOutOfDateError)) throw err;
    });
  }
  const stored = await node.storage.streamSnapshot();
  if (stored === undefined) throw new Error('no stored snapshot after taking one');
  const chunks = stored.chunks[Symbol.asyncIterator]();
  try {
    // The address book and the image's own header come first, within the first stored chunk.
    let head = Buffer.alloc(0);
    let parts: ReturnType<typeof splitEnvelope>;
    let summary: ReturnType<typeof snapshotImageSummary>;
    for (;;) {
      parts = splitEnvelope(head);
      summary = parts && snapshotImageSummary(parts.kv);
      if (summary) break;
      const next = await chunks.next();
      if (next.done) throw new Error(`the stored snapshot at ${stored.meta.index} ends inside its header`);
      head = Buffer.concat([head, next.value]);
    }
    const book = new Members();
    book.restore(parts!.members);
    const lru = await node.kv.lruOrder();
    const header: BackupHeader = {
      clusterId: node.clusterId ?? node.storage.clusterId() ?? node.cfg.clusterId ?? '',
      index: stored.meta.index,
      term: stored.meta.term,
      members: book.all(),
      voters: stored.meta.conf.voters,
      learners: stored.meta.conf.learners,
      keyCount: summary.keyCount,
      createdAt: new Date().toISOString(),
      node: node.cfg.id,
      bodyFormat: summary.format,
      bodyBytes: stored.bytes - (head.length - parts!.kv.length),
      lruBytes: lruBytes(lru),
    };
    const bytes = encodeBackupHeader(header).length + header.bodyBytes + header.lruBytes + DIGEST_BYTES;
    return { header, bytes, stream: backupStream(header, parts!.kv, chunks, lru) };
  } catch (err) {
    await chunks.return?.();
    throw err;
  }
}

async function* backupStream(header: BackupHeader, first: Uint8Array, rest: AsyncIterator<Uint8Array>, lru: string[]): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  const out = (b: Uint8Array) => {
    hash.update(b);
    return b;
  };
  try {
    yield out(encodeBackupHeader(header));
    if (first.length > 0) yield out(first);
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield out(next.value);
  } finally {
    await rest.return?.();
  }
  for (const piece of encodeLru(lru)) yield out(piece);
  yield hash.digest();
}

/**
 * The file a restore leaves in a data folder: the backup's LRU order, for the snapshot at
 * `index` (u64 BE) it came with. The node applies it once, right after opening, and removes it.
 */
export const RESTORED_LRU_FILE = 'restored-lru';

/**
 * Marks the keys used in the backup's order, least recently used first, so eviction picks what
 * the backed-up cluster would have; keys without a mark stay least recent. Only while the state
 * is still exactly the snapshot the file came with (a later start has moved on). Never fatal:
 * LRU order is a hint.
 */
export function applyRestoredLru(dataDir: string, kv: Pick<KvStore, 'appliedIndex' | 'getBinary'>, now: number, log: Logger): void {
  const file = join(dataDir, RESTORED_LRU_FILE);
  if (!existsSync(file)) return;
  try {
    const data = readFileSync(file);
    const index = data.length >= 8 ? Number(data.readBigUInt64BE(0)) : -1;
    if (index === kv.appliedIndex) {
      let touched = 0;
      for (const key of decodeLru(data.subarray(8))) if (kv.getBinary(key, now, { touch: true }) !== null) touched++;
      log.info({ index, keys: touched }, "restored the backup's LRU order");
    }
  } catch (err) {
    log.warn({ err }, 'cannot apply the restored LRU order; keys keep their creation order');
  }
  rmSync(file, { force: true });
}
