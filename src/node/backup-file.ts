/**
 * The backup file: what `GET /v1/snapshot` streams, `raftkv snapshot save` stores, and
 * `raftkv snapshot status|restore` read (cli/snapshot.ts). etcd's `snapshot save` file, for RaftKV:
 *
 *   "RAFTKVBK" version (u8 = 1) headerBytes (u32 BE) header (JSON, UTF-8, BackupHeader)
 *   body   bodyBytes: the keyspace image exactly as the node's snapshots hold it (kv/snapshot.ts,
 *          in whatever format that version writes; it carries its own crc32 too)
 *   lru    lruBytes: the leader's LRU order, least recently used first, as {u32 BE len, key}*
 *   sha256 (32 bytes) of every byte before it
 *
 * The header says everything an operator asks before restoring (cluster id, index, term,
 * members, key count, when), and its sizes let a truncated file be told from a corrupt one.
 * Readers verify the checksum before they use anything, so a damaged file is refused whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { checkMember, type Member } from './members.ts';

export const BACKUP_MAGIC = Buffer.from('RAFTKVBK', 'latin1');
export const BACKUP_VERSION = 1;
/** Magic, version, header length. */
const PREFIX = BACKUP_MAGIC.length + 1 + 4;
export const DIGEST_BYTES = 32;
/** More than any member list needs; a bound so a corrupt length cannot allocate much. */
const MAX_HEADER_BYTES = 1024 * 1024;

export interface BackupHeader {
  clusterId: string;
  /** The last log index the image reflects, and its term. */
  index: number;
  term: number;
  /** The address book and the configuration at `index`. */
  members: Member[];
  voters: string[];
  learners: string[];
  keyCount: number;
  /** ISO 8601, the serving node's clock. */
  createdAt: string;
  /** The node that served the backup (the leader). */
  node: string;
  /** The keyspace image's own format number (kv/snapshot.ts), for the operator. */
  bodyFormat: number;
  bodyBytes: number;
  lruBytes: number;
}

/** The file is not a usable backup; the message says why, for the operator. */
export class BackupFileError extends Error {
  override name = 'BackupFileError';
}

export function encodeBackupHeader(h: BackupHeader): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const out = Buffer.allocUnsafe(PREFIX + json.length);
  BACKUP_MAGIC.copy(out, 0);
  out.writeUInt8(BACKUP_VERSION, BACKUP_MAGIC.length);
  out.writeUInt32BE(json.length, BACKUP_MAGIC.length + 1);
  json.copy(out, PREFIX);
  return out;
}

/** The LRU section for `keys` (binary strings, one char per byte), in pieces of about `piece` bytes. */
export function* encodeLru(keys: readonly string[], piece = 256 * 1024): Generator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for (const key of keys) {
    const b = Buffer.allocUnsafe(4 + key.length);
    b.writeUInt32BE(key.length, 0);
    b.write(key, 4, 'latin1');
    parts.push(b);
    size += b.length;
    if (size >= piece) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

export function lruBytes(keys: readonly string[]): number {
  let n = 0;
  for (const key of keys) n += 4 + key.length;
  return n;
}

/** The keys of an LRU section, least recently used first. */
export function* decodeLru(section: Buffer): Generator<Buffer> {
  for (let at = 0; at < section.length; ) {
    if (at + 4 > section.length) throw new BackupFileError('the LRU section ends inside a key length');
    const n = section.readUInt32BE(at);
    if (at + 4 + n > section.length) throw new BackupFileError('the LRU section ends inside a key');
    yield section.subarray(at + 4, at + 4 + n);
    at += 4 + n;
  }
}

/** Where a verified file's parts are. */
export interface BackupLayout {
  header: BackupHeader;
  bodyStart: number;
  lruStart: number;
  size: number;
}

/**
 * Reads the header and checks the file's size against it and the checksum over all of it
 * (streamed: the file is never in memory). BackupFileError names what is wrong.
 */
export async function verifyBackup(path: string): Promise<BackupLayout> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new BackupFileError(`cannot open it: ${(err as Error).message}`);
  }
  let layout: BackupLayout;
  try {
    layout = await readLayout(fh);
  } finally {
    await fh.close();
  }
  const hash = createHash('sha256');
  const end = layout.size - DIGEST_BYTES;
  for await (const chunk of createReadStream(path, { start: 0, end: end - 1, highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  const digest = Buffer.alloc(DIGEST_BYTES);
  const tail = await open(path, 'r');
  try {
    await tail.read(digest, 0, DIGEST_BYTES, end);
  } finally {
    await tail.close();
  }
  if (!hash.digest().equals(digest)) throw new BackupFileError('checksum mismatch: the file is corrupt');
  return layout;
}

async function readLayout(fh: FileHandle): Promise<BackupLayout> {
  const size = (await fh.stat()).size;
  const prefix = Buffer.alloc(PREFIX);
  const got = (await fh.read(prefix, 0, PREFIX, 0)).bytesRead;
  if (got >= BACKUP_MAGIC.length && !prefix.subarray(0, BACKUP_MAGIC.length).equals(BACKUP_MAGIC)) {
    throw new BackupFileError('not a RaftKV backup (bad magic)');
  }
  if (got < PREFIX) throw new BackupFileError(`truncated: ${size} bytes, shorter than a backup's header`);
  const version = prefix.readUInt8(BACKUP_MAGIC.length);
  if (version !== BACKUP_VERSION) throw new BackupFileError(`backup format version ${version}; this version reads ${BACKUP_VERSION}`);
  const headerBytes = prefix.readUInt32BE(BACKUP_MAGIC.length + 1);
  if (headerBytes > MAX_HEADER_BYTES) throw new BackupFileError(`a header of ${headerBytes} bytes: the file is corrupt`);
  if (PREFIX + headerBytes > size) throw new BackupFileError(`truncated: ${size} bytes, inside the header`);
  const json = Buffer.alloc(headerBytes);
  await fh.read(json, 0, headerBytes, PREFIX);
  const header = checkHeader(json);
  const bodyStart = PREFIX + headerBytes;
  const lruStart = bodyStart + header.bodyBytes;
  const expected = lruStart + header.lruBytes + DIGEST_BYTES;
  if (size < expected) throw new BackupFileError(`truncated: ${size} of ${expected} bytes`);
  if (size > expected) throw new BackupFileError(`${size - expected} bytes after the end (${expected} bytes expected)`);
  return { header, bodyStart, lruStart, size };
}

function checkHeader(json: Buffer): BackupHeader {
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new BackupFileError('the header is not JSON: the file is corrupt');
  }
  if (typeof h !== 'object' || h === null) throw new BackupFileError('the header is not an object');
  const count = (name: string) => {
    if (!Number.isSafeInteger(h[name]) || (h[name] as number) < 0) throw new BackupFileError(`the header's ${name} is not a count`);
  };
  for (const name of ['index', 'term', 'keyCount', 'bodyFormat', 'bodyBytes', 'lruBytes']) count(name);
  // A backup is of a stored snapshot, which is never the empty one at index 0, term 0.
  if ((h.index as number) < 1 || (h.term as number) < 1) throw new BackupFileError(`the header's index ${h.index} and term ${h.term} are not a snapshot's`);
  for (const name of ['clusterId', 'createdAt', 'node']) {
    if (typeof h[name] !== 'string') throw new BackupFileError(`the header's ${name} is not a string`);
  }
  for (const name of ['voters', 'learners']) {
    if (!Array.isArray(h[name]) || !(h[name] as unknown[]).every((s) => typeof s === 'string')) {
      throw new BackupFileError(`the header's ${name} is not a list of ids`);
    }
  }
  if (!Array.isArray(h.members)) throw new BackupFileError("the header's members is not a list");
  try {
    h.members = (h.members as unknown[]).map(checkMember);
  } catch (err) {
    throw new BackupFileError(`the header's members: ${(err as Error).message}`);
  }
  return h as unknown as BackupHeader;
}

/** A verified file's body (the keyspace image), streamed. */
export function bodyStream(path: string, layout: BackupLayout): AsyncIterable<Buffer> {
  const { bodyStart, lruStart } = layout;
  if (lruStart === bodyStart) return (async function* () {})();
  return createReadStream(path, { start: bodyStart, end: lruStart - 1, highWaterMark: 1024 * 1024 });
}

/** Reads `length` bytes at `position` into `into` at `offset` (a verified file's part). */
export async function readPart(path: string, position: number, length: number, into: Buffer, offset = 0): Promise<void> {
  const fh = await open(path, 'r');
  try {
    for (let done = 0; done < length; ) {
      const { bytesRead } = await fh.read(into, offset + done, length - done, position + done);
      if (bytesRead === 0) throw new BackupFileError('the file shrank while being read');
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
}
