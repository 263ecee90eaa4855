/**
 * Client sessions for idempotent writes (Raft dissertation §6.3), keyed by the client's
 * Idempotency-Key rather than by a client id and sequence number: HTTP clients are stateless,
 * and a key per request is what the Idempotency-Key header draft and Stripe ask of them.
 *
 * An entry whose first op is SESSION {key, fingerprint, ttlMs} applies the rest of its ops only
 * if no live record holds `key`, and records their results; a later entry with the same key and
 * fingerprint applies nothing and answers the recorded results (a retry after a timeout, a
 * failover, a restart); the same key with another fingerprint answers ERR.sessionConflict. The
 * check happens in apply, in log order, so two copies of one request proposed concurrently
 * (racing retries, on one leader or across a failover) still apply once.
 *
 * The table is replicated state: applied from the log, carried by snapshots (FORMAT 5), and
 * judged by entry timestamps only. A record lives until its entry's ts + ttlMs (the proposer's
 * setting, carried in the op); a record past that is absent to lookups and is dropped from the
 * front of the table as entries' timestamps pass it.
 *
 * Bounded: every record is accounted as key + fingerprint + encoded results + SESSION_OVERHEAD,
 * at most MAX_SESSION_RECORD_BYTES each, and past MAX_SESSION_BYTES in all the oldest records
 * are dropped first (as the dissertation's LRU of sessions; a retry of a dropped key applies
 * again). These are constants, not settings: every replica must drop the same records. The
 * table is not counted in maxmemory, so idempotency keys never evict data and maxmemory keeps
 * meaning bytes of keys and values.
 */
import { Buffer } from 'node:buffer';
import { ByteReader, ByteWriter, fromBinary, toBinary, uvarintSize, zigzag } from './bytes.ts';
import type { KvEntry, KvOp, OpOf } from './ops.ts';
import { error, int, type KvResult } from './results.ts';

/** Longest Idempotency-Key (bytes), as Stripe's 255 characters. */
export const MAX_SESSION_KEY_BYTES = 255;
/** Longest fingerprint (a SHA-256 is 32 bytes). */
export const MAX_FINGERPRINT_BYTES = 64;
/** Longest record lifetime an op may ask for: 30 days. */
export const MAX_SESSION_TTL_MS = 30 * 24 * 3600 * 1000;
/** Largest encoded result list kept; a larger one is kept as ERR.sessionResultTooLarge. */
export const MAX_SESSION_RESULT_BYTES = 4096;
/**
 * Accounted per record beyond its bytes: the Map slot, the record object, three strings. With
 * 36-byte keys the heap grows by ~140 bytes a record (~70 beyond the bytes) and RSS by ~275
 * (200k records, `node --expose-gc`); 160 keeps the account above the heap.
 */
export const SESSION_OVERHEAD = 160;
/** Accounted bytes of all records before the oldest are dropped: 64 MiB. */
export const MAX_SESSION_BYTES = 64 * 1024 * 1024;

export const SESSION_ERR = {
  conflict: 'ERR idempotency key already used for a different request',
  resultTooLarge: 'ERR the result of the first request was too large to keep',
  malformed: 'ERR malformed idempotency record',
} as const;

/** One recorded request. Immutable once made (a snapshot in progress holds references). */
export interface SessionRecord {
  /** The Idempotency-Key, a binary string. */
  readonly key: string;
  readonly fingerprint: string;
  /** Log index of the entry that applied the request. */
  readonly index: number;
  /** Entry ts + ttlMs: absent to lookups at any ts >= this. */
  readonly expiresAt: number;
  /** The results, encodeResults'd, as a binary string (a third of a small Buffer's heap). */
  readonly results: string;
}

export function recordBytes(r: SessionRecord): number {
  return r.key.length + r.fingerprint.length + r.results.length + SESSION_OVERHEAD;
}

/** Why a SESSION op cannot be used (the entry then applies nothing), or undefined. */
export function sessionProblem(op: OpOf<'session'>): string | undefined {
  if (op.key.length === 0 || op.key.length > MAX_SESSION_KEY_BYTES) return `key of ${op.key.length} bytes`;
  if (op.fingerprint.length === 0 || op.fingerprint.length > MAX_FINGERPRINT_BYTES) return `fingerprint of ${op.fingerprint.length} bytes`;
  if (!Number.isSafeInteger(op.ttlMs) || op.ttlMs < 1 || op.ttlMs > MAX_SESSION_TTL_MS) return `ttl of ${op.ttlMs} ms`;
  return undefined;
}

/** The SESSION op's own result: whether this entry replayed the record, and the index that applied it. */
export function sessionResult(replayed: boolean, index: number): KvResult {
  return { type: 'array', value: [{ type: 'status', value: replayed ? 'replayed' : 'applied' }, int(index)] };
}

export class Sessions {
  private map = new Map<string, SessionRecord>();
  private bytes = 0;

  get size(): number {
    return this.map.size;
  }

  /** Accounted bytes (see recordBytes). */
  get usedBytes(): number {
    return this.bytes;
  }

  /**
   * An entry led by SESSION `op`, applied at `index`: the rest of it (`applyRest`) applies only
   * if no live record holds the key. Results: the SESSION op's (sessionResult) then one per
   * further op; or a single error when the key was used for another request, or the op is
   * unusable (nothing applies, so a malformed record in the log is a no-op).
   */
  apply(entry: KvEntry, op: OpOf<'session'>, index: number, applyRest: (ops: KvOp[]) => KvResult[]): KvResult[] {
    if (sessionProblem(op) !== undefined) return [error(SESSION_ERR.malformed)];
    const found = this.find(toBinary(op.key), entry.ts);
    if (found !== undefined) {
      if (found.fingerprint !== toBinary(op.fingerprint)) return [error(SESSION_ERR.conflict)];
      let results: KvResult[];
      try {
        results = decodeResults(found.results);
      } catch {
        // Only a corrupt record gets here (restore checks them): answer, never throw in apply.
        results = [error(SESSION_ERR.malformed)];
      }
      return [sessionResult(true, found.index), ...results];
    }
    const results = applyRest(entry.ops.slice(1));
    this.add(newRecord(op, entry.ts, index, results));
    return [sessionResult(false, index), ...results];
  }

  /** The live record for `key` at entry time `ts`. */
  find(key: string, ts: number): SessionRecord | undefined {
    const r = this.map.get(key);
    return r !== undefined && r.expiresAt > ts ? r : undefined;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Adds a record (replacing an expired one of the same key), then drops the oldest past the cap. */
  add(r: SessionRecord): void {
    this.remove(r.key);
    this.map.set(r.key, r);
    this.bytes += recordBytes(r);
    while (this.bytes > MAX_SESSION_BYTES) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
    }
  }

  /**
   * Drops records from the front (oldest applied first) whose time has passed at `ts`. O(1)
   * when none is due; a record behind one with a longer ttl waits for it (lookups already treat
   * it as absent, and it stays within the cap).
   */
  expire(ts: number): void {
    if (this.map.size === 0) return;
    for (const r of this.map.values()) {
      if (r.expiresAt > ts) return;
      this.remove(r.key);
    }
  }

  /** The records in table order, for a snapshot (records are immutable: a copy of the list suffices). */
  records(): SessionRecord[] {
    return [...this.map.values()];
  }

  private remove(key: string): void {
    const r = this.map.get(key);
    if (r === undefined) return;
    this.map.delete(key);
    this.bytes -= recordBytes(r);
  }
}

/** A new record for the results of the entry at `index`. */
export function newRecord(op: OpOf<'session'>, ts: number, index: number, results: KvResult[]): SessionRecord {
  let encoded = encodeResults(results);
  if (encoded.length > MAX_SESSION_RESULT_BYTES) encoded = encodeResults([error(SESSION_ERR.resultTooLarge)]);
  return { key: toBinary(op.key), fingerprint: toBinary(op.fingerprint), index, expiresAt: ts + op.ttlMs, results: toBinary(encoded) };
}

// ---- results, as kept in a record ------------------------------------------------------------

const T_OK = 1;
const T_NIL = 2;
const T_INT = 3;
const T_BIGINT = 4;
const T_BULK = 5;
const T_STATUS = 6;
const T_ARRAY = 7;
const T_ERROR = 8;
const T_ABORTED = 9;
/** A PUBLISH (replying with a receiver count) or CONFIG result: a replay delivers nothing again. */
const T_DONE = 10;
/** Deeper arrays than any op returns are cut here, so a decode cannot recurse without end. */
const MAX_DEPTH = 4;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Beyond what a zigzag varint holds (|n| <= 2^52): written as 8 bytes. */
function wide(v: number | bigint): boolean {
  return typeof v === 'bigint' || Math.abs(v) > 2 ** 52;
}

function resultSize(r: KvResult, depth: number): number {
  switch (r.type) {
    case 'int':
      return wide(r.value) ? 9 : 1 + uvarintSize(zigzag(r.value as number));
    case 'bulk':
      return 1 + uvarintSize(r.value.length) + r.value.length;
    case 'status':
      return 1 + uvarintSize(Buffer.byteLength(r.value)) + Buffer.byteLength(r.value);
    case 'error':
      return 1 + uvarintSize(Buffer.byteLength(r.message)) + Buffer.byteLength(r.message);
    case 'array': {
      if (depth >= MAX_DEPTH) return 1;
      let size = 1 + uvarintSize(r.value.length);
      for (const x of r.value) size += resultSize(x, depth + 1);
      return size;
    }
    default:
      return 1;
  }
}

function writeResult(w: ByteWriter, r: KvResult, depth: number): void {
  switch (r.type) {
    case 'ok':
      w.u8(T_OK);
      break;
    case 'nil':
      w.u8(T_NIL);
      break;
    case 'int':
      if (wide(r.value)) {
        w.u8(T_BIGINT);
        w.i64(BigInt(r.value));
      } else {
        w.u8(T_INT);
        w.svarint(r.value as number);
      }
      break;
    case 'bulk':
      w.u8(T_BULK);
      w.bytes(r.value);
      break;
    case 'status':
      w.u8(T_STATUS);
      w.bytes(Buffer.from(r.value));
      break;
    case 'error':
      w.u8(T_ERROR);
      w.bytes(Buffer.from(r.message));
      break;
    case 'array':
      if (depth >= MAX_DEPTH) {
        w.u8(T_NIL);
        break;
      }
      w.u8(T_ARRAY);
      w.uvarint(r.value.length);
      for (const x of r.value) writeResult(w, x, depth + 1);
      break;
    case 'aborted':
      w.u8(T_ABORTED);
      break;
    case 'publish':
    case 'settings':
    // Never in a record (a `moved` entry applies nothing, a split is alone in its entry), but
    // the size above counts a byte for them: write one.
    case 'moved':
    case 'split':
      w.u8(T_DONE);
      break;
  }
}

export function encodeResults(results: KvResult[]): Uint8Array {
  let size = uvarintSize(results.length);
  for (const r of results) size += resultSize(r, 0);
  const w = new ByteWriter(Buffer.alloc(size));
  w.uvarint(results.length);
  for (const r of results) writeResult(w, r, 0);
  return w.buf;
}

function readResult(r: ByteReader, depth: number): KvResult {
  const tag = r.u8();
  switch (tag) {
    case T_OK:
      return { type: 'ok' };
    case T_NIL:
      return { type: 'nil' };
    case T_INT:
      return int(r.svarint());
    case T_BIGINT: {
      // A bigint only beyond 2^53, as apply makes them.
      const v = r.i64();
      return int(v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v);
    }
    case T_BULK:
      return { type: 'bulk', value: Buffer.from(r.bytes()) };
    case T_STATUS:
      return { type: 'status', value: r.bytes().toString() };
    case T_ERROR:
      return error(r.bytes().toString());
    case T_ARRAY: {
      if (depth >= MAX_DEPTH) throw new RangeError('results nested too deep');
      const n = r.uvarint();
      if (n > r.remaining) throw new RangeError(`array of ${n} results in ${r.remaining} bytes`);
      const value: KvResult[] = [];
      for (let i = 0; i < n; i++) value.push(readResult(r, depth + 1));
      return { type: 'array', value };
    }
    case T_ABORTED:
      return { type: 'aborted' };
    case T_DONE:
      return { type: 'ok' };
    default:
      throw new RangeError(`result tag ${tag}`);
  }
}

/** Decodes a record's results; throws on bytes encodeResults did not write. */
export function decodeResults(results: string): KvResult[] {
  const r = new ByteReader(fromBinary(results));
  const n = r.uvarint();
  if (n > r.remaining) throw new RangeError(`${n} results in ${r.remaining} bytes`);
  const out: KvResult[] = [];
  for (let i = 0; i < n; i++) out.push(readResult(r, 0));
  if (r.remaining !== 0) throw new RangeError(`${r.remaining} trailing bytes`);
  return out;
}
