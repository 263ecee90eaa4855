/**
 * The log command format: what a Normal raft entry carries for the kv state machine.
 *
 * An entry is one client command or one MULTI/EXEC transaction (several ops applied atomically),
 * stamped with the leader's clock. Every time in an op is absolute Unix milliseconds: relative
 * TTLs (EX, PX, EXPIRE ...) are converted by the front end before proposing, like Redis does
 * when it replicates them.
 */

type Bytes = Uint8Array;

/** A seeded PRNG returning a float in [0, 1); the kv layer never uses Math.random. */
export type Rng = () => number;

/**
 * The op table. `code` is the byte on the wire (never reuse one); `write` is false for ops that
 * only read (they exist so a MULTI can interleave reads with writes in one atomic entry).
 */
export const OP = {
  set: { code: 1, write: true },
  del: { code: 2, write: true },
  pexpireat: { code: 3, write: true },
  persist: { code: 4, write: true },
  incrby: { code: 5, write: true },
  incrbyfloat: { code: 6, write: true },
  append: { code: 7, write: true },
  mset: { code: 8, write: true },
  msetnx: { code: 9, write: true },
  getdel: { code: 10, write: true },
  getex: { code: 11, write: true },
  flushall: { code: 12, write: true },
  /** No state change: the result carries the message so every node delivers it in log order. */
  publish: { code: 13, write: true },
  /** Leader's active expiry: delete `key` only if its expiry is still set and <= `at`. */
  expireIf: { code: 14, write: true },
  /**
   * Leader's eviction as logged before issue 11: delete the keys that are still present. No
   * longer proposed (a write committed between the pick and the apply was lost); old log
   * entries still apply as they did.
   */
  evict: { code: 15, write: true },
  /** CONFIG SET of cluster-wide settings (settings.ts): (name, value) pairs, all in one entry. */
  config: { code: 16, write: true },
  /**
   * Leader's eviction: delete each key only if its version is still the one the leader saw
   * when it picked it, so a key written (or whose TTL changed) in between survives.
   */
  evictIf: { code: 17, write: true },
  /**
   * An idempotent write (sessions.ts): only as an entry's first op, it makes the rest of the
   * entry apply at most once per key; a repeat answers the first results.
   */
  session: { code: 18, write: true },
  /**
   * Issue 13: the group gives up the slots from `atSlot` to the end of the owned range holding
   * it, to a new group built from this state at this entry (split.ts). Alone in its entry.
   */
  split: { code: 19, write: true },
  /** Cleanup after a split: deletes the given-up keys of the next `limit` creation seqs. */
  dropUnowned: { code: 20, write: true },
  /** SPUBLISH (Redis 7 sharded pub/sub): `publish`, delivered to shard-channel subscribers. */
  spublish: { code: 21, write: true },
  // Issue 14, hashes. The entry codec writes these from their shapes (codec-types.ts).
  /** HSET / HMSET / HSETNX (`nx`, one pair). */
  hset: { code: 22, write: true },
  hdel: { code: 23, write: true },
  hincrby: { code: 24, write: true },
  hincrbyfloat: { code: 25, write: true },
  // Sets.
  sadd: { code: 26, write: true },
  srem: { code: 27, write: true },
  spop: { code: 28, write: true },
  smove: { code: 29, write: true },
  /** SINTERSTORE / SUNIONSTORE / SDIFFSTORE (`mode`). */
  sstore: { code: 30, write: true },
  /** RENAME / RENAMENX (`nx`), any type. */
  rename: { code: 31, write: true },
  /** COPY key dest [REPLACE], any type. */
  copy: { code: 63, write: true },
  get: { code: 32, write: false },
  mget: { code: 33, write: false },
  exists: { code: 34, write: false },
  strlen: { code: 35, write: false },
  type: { code: 36, write: false },
  ttl: { code: 37, write: false },
  expiretime: { code: 38, write: false },
  dbsize: { code: 39, write: false },
  keys: { code: 40, write: false },
  scan: { code: 41, write: false },
  randomkey: { code: 42, write: false },
  hget: { code: 43, write: false },
  hmget: { code: 44, write: false },
  hgetall: { code: 45, write: false },
  hexists: { code: 46, write: false },
  hlen: { code: 47, write: false },
  hkeys: { code: 48, write: false },
  hvals: { code: 49, write: false },
  hstrlen: { code: 50, write: false },
  hrandfield: { code: 51, write: false },
  hscan: { code: 52, write: false },
  /** OBJECT ENCODING key. */
  encoding: { code: 53, write: false },
  /** SCAN with a TYPE filter (a plain SCAN stays `scan`, so older entries decode the same). */
  scanType: { code: 54, write: false },
  smembers: { code: 55, write: false },
  sismember: { code: 56, write: false },
  smismember: { code: 57, write: false },
  scard: { code: 58, write: false },
  srandmember: { code: 59, write: false },
  /** SINTER / SUNION / SDIFF (`mode`). */
  scombine: { code: 60, write: false },
  sintercard: { code: 61, write: false },
  sscan: { code: 62, write: false },
  // Issue 14, lists (codes 80-99, clear of the sorted sets'). Shapes in codec-types.ts.
  /** LPUSH / RPUSH / LPUSHX / RPUSHX. */
  lpush: { code: 80, write: true },
  /** LPOP / RPOP, with or without a count. */
  lpop: { code: 81, write: true },
  /** LMOVE / RPOPLPUSH. */
  lmove: { code: 82, write: true },
  lmpop: { code: 83, write: true },
  lset: { code: 84, write: true },
  lrem: { code: 85, write: true },
  ltrim: { code: 86, write: true },
  linsert: { code: 87, write: true },
  llen: { code: 96, write: false },
  lrange: { code: 97, write: false },
  lindex: { code: 98, write: false },
  lpos: { code: 99, write: false },
  // Issue 14, sorted sets (writes 100-111, reads 112-127, clear of the lists' 80-99). zset-writes.ts, zset-reads.ts.
  /** ZADD / ZINCRBY (`incr`). */
  zadd: { code: 102, write: true },
  zrem: { code: 103, write: true },
  /** ZPOPMIN / ZPOPMAX (`max`). */
  zpop: { code: 104, write: true },
  /** ZMPOP numkeys key... MIN|MAX [COUNT n]. */
  zmpop: { code: 105, write: true },
  /** ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]. */
  zrangestore: { code: 100, write: true },
  /** ZREMRANGEBYRANK / BYSCORE / BYLEX (`by`). */
  zremrange: { code: 101, write: true },
  zscore: { code: 112, write: false },
  zmscore: { code: 113, write: false },
  zcard: { code: 114, write: false },
  zcount: { code: 115, write: false },
  /** ZRANK / ZREVRANK (`rev`). */
  zrank: { code: 116, write: false },
  /** ZRANGE and ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, ZREVRANGE. */
  zrange: { code: 117, write: false },
  zlexcount: { code: 118, write: false },
} as const;

export type OpName = keyof typeof OP;

/** 'ms' for PTTL/PEXPIRETIME, 's' for TTL/EXPIRETIME. */
export type TimeUnit = 'ms' | 's';

/** Fields of each op; the mapped type below fails to compile if an OP entry has no shape. */
interface OpShapes {
  /** SET key value [NX|XX] [GET] [KEEPTTL|PXAT at]. Without KEEPTTL or pxat the TTL is cleared. */
  set: { key: Bytes; value: Bytes; cond?: 'nx' | 'xx'; get?: boolean; keepTtl?: boolean; pxat?: number };
  del: { keys: Bytes[] };
  /** PEXPIREAT key at [NX|XX|GT|LT]; XX may combine with GT or LT, as in Redis. */
  pexpireat: { key: Bytes; at: number; nx?: boolean; xx?: boolean; gt?: boolean; lt?: boolean };
  persist: { key: Bytes };
  /** INCR/DECR/INCRBY/DECRBY: a signed 64-bit delta. */
  incrby: { key: Bytes; delta: bigint };
  /** The increment exactly as the client sent it (parsed at apply time like strtold). */
  incrbyfloat: { key: Bytes; incr: string };
  append: { key: Bytes; value: Bytes };
  mset: { pairs: [key: Bytes, value: Bytes][] };
  msetnx: { pairs: [key: Bytes, value: Bytes][] };
  getdel: { key: Bytes };
  /** GETEX key [PXAT at | PERSIST]; neither is a plain GET. */
  getex: { key: Bytes; pxat?: number; persist?: boolean };
  flushall: Record<never, never>;
  publish: { channel: Bytes; message: Bytes };
  expireIf: { key: Bytes; at: number };
  evict: { keys: Bytes[] };
  /** Canonical (name, value) pairs, e.g. ("maxmemory", "1073741824"); see settings.ts. */
  config: { pairs: [name: Bytes, value: Bytes][] };
  evictIf: { victims: Victim[] };
  /**
   * The client's Idempotency-Key, a fingerprint of its request (method, path, body) and how
   * long the record lives after the entry's ts: the proposer's setting, carried so that every
   * replica expires it alike.
   */
  session: { key: Bytes; fingerprint: Bytes; ttlMs: number };
  /** `group`: the new group's id (uint32), reserved in the metadata group first. */
  split: { atSlot: number; group: number };
  /** Creation seqs walked (capped by MAX_DROP_EXAMINED). */
  dropUnowned: { limit: number };
  spublish: { channel: Bytes; message: Bytes };
  get: { key: Bytes };
  mget: { keys: Bytes[] };
  exists: { keys: Bytes[] };
  strlen: { key: Bytes };
  type: { key: Bytes };
  ttl: { key: Bytes; unit: TimeUnit };
  expiretime: { key: Bytes; unit: TimeUnit };
  dbsize: Record<never, never>;
  keys: { pattern: Bytes };
  scan: { cursor: number; match?: Bytes; count: number };
  randomkey: Record<never, never>;
  hset: { key: Bytes; pairs: [field: Bytes, value: Bytes][]; nx?: boolean };
  hdel: { key: Bytes; fields: Bytes[] };
  /** A signed 64-bit increment. */
  hincrby: { key: Bytes; field: Bytes; delta: bigint };
  /** The increment as the client sent it (parsed at apply time like strtold, as incrbyfloat). */
  hincrbyfloat: { key: Bytes; field: Bytes; incr: Bytes };
  hget: { key: Bytes; field: Bytes };
  hmget: { key: Bytes; fields: Bytes[] };
  hgetall: { key: Bytes };
  hexists: { key: Bytes; field: Bytes };
  hlen: { key: Bytes };
  hkeys: { key: Bytes };
  hvals: { key: Bytes };
  hstrlen: { key: Bytes; field: Bytes };
  /**
   * HRANDFIELD key [count [WITHVALUES]]: no count, one field or nil; else Redis's count rule
   * (structs/random.ts), |count| bounded by the front end (MAX_RANDOM_COUNT).
   */
  hrandfield: { key: Bytes; count?: number; withValues?: boolean };
  /** HSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is a position (structs/hash.ts). */
  hscan: { key: Bytes; cursor: number; count: number; match?: Bytes };
  encoding: { key: Bytes };
  /** `kind` is the TYPE argument lower-cased ("hash"); one no type has matches no key. */
  scanType: { cursor: number; count: number; match?: Bytes; kind: Bytes };
  sadd: { key: Bytes; members: Bytes[] };
  srem: { key: Bytes; members: Bytes[] };
  /** SPOP key [count]: without a count one member or nil; a count >= 0 (the front end checks). */
  spop: { key: Bytes; count?: number };
  /** SMOVE key dest member: `key` is the source. */
  smove: { key: Bytes; dest: Bytes; member: Bytes };
  /** `key` is the destination; `keys` the sets combined (SET_MODE). */
  sstore: { key: Bytes; keys: Bytes[]; mode: number };
  smembers: { key: Bytes };
  sismember: { key: Bytes; member: Bytes };
  smismember: { key: Bytes; members: Bytes[] };
  scard: { key: Bytes };
  /** SRANDMEMBER key [count]: Redis's count rule, |count| bounded as HRANDFIELD's. */
  srandmember: { key: Bytes; count?: number };
  scombine: { keys: Bytes[]; mode: number };
  /** SINTERCARD: `limit` 0 = none. */
  sintercard: { keys: Bytes[]; limit: number };
  sscan: { key: Bytes; cursor: number; count: number; match?: Bytes };
  rename: { key: Bytes; dest: Bytes; nx?: boolean };
  /**
   * ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...: each score as the client sent it
   * (parsed again at apply, as string2d: scores.ts). ZINCRBY is `incr` with one pair.
   */
  zadd: { key: Bytes; pairs: [score: Bytes, member: Bytes][]; nx?: boolean; xx?: boolean; gt?: boolean; lt?: boolean; ch?: boolean; incr?: boolean };
  zrem: { key: Bytes; members: Bytes[] };
  /** Without a count one entry, flat; a count >= 0 pops that many (the front end checks). */
  zpop: { key: Bytes; count?: number; max?: boolean };
  /** `count` >= 1; the first key holding a non-empty sorted set is popped. */
  zmpop: { keys: Bytes[]; count: number; max?: boolean };
  zscore: { key: Bytes; member: Bytes };
  zmscore: { key: Bytes; members: Bytes[] };
  zcard: { key: Bytes };
  /** The bounds as the client sent them (zslParseRange again at apply). */
  zcount: { key: Bytes; min: Bytes; max: Bytes };
  zrank: { key: Bytes; member: Bytes; rev?: boolean };
  /**
   * `by` ZRANGE_BY: ranks (min, max are int64 texts), scores or lex bounds, each as the client
   * sent them and read again at apply. `rev`: min and max are already the (low, high) ends.
   * LIMIT: `offset` and `count` (negative = all) for scores and lex only.
   */
  zrange: { key: Bytes; min: Bytes; max: Bytes; by: number; rev?: boolean; withScores?: boolean; offset?: number; count?: number };
  /** ZRANGESTORE: `key` the source, `dest` the destination. */
  zrangestore: { key: Bytes; dest: Bytes; min: Bytes; max: Bytes; by: number; rev?: boolean; offset?: number; count?: number };
  zremrange: { key: Bytes; min: Bytes; max: Bytes; by: number };
  zlexcount: { key: Bytes; min: Bytes; max: Bytes };
  copy: { key: Bytes; dest: Bytes; replace?: boolean };
  // Lists. Indexes and counts are Redis's longs clamped by the front end to +-(2^52 - 1) (no list
  // is that long, so the clamp changes no answer); apply resolves negative indexes.
  /** LPUSH key element...: `left` pushes at the head, `xx` only onto an existing list (PUSHX). */
  lpush: { key: Bytes; elements: Bytes[]; left?: boolean; xx?: boolean };
  /** LPOP / RPOP key [count]: without a count one element or nil; a count >= 0. */
  lpop: { key: Bytes; left?: boolean; count?: number };
  /** LMOVE key dest LEFT|RIGHT LEFT|RIGHT: `key` is the source. */
  lmove: { key: Bytes; dest: Bytes; fromLeft?: boolean; toLeft?: boolean };
  /** LMPOP: up to `count` (>= 1) elements of the first non-empty list of `keys`. */
  lmpop: { keys: Bytes[]; left?: boolean; count: number };
  lset: { key: Bytes; index: number; element: Bytes };
  /** LREM key count element: count > 0 from the head, < 0 from the tail, 0 all. */
  lrem: { key: Bytes; count: number; element: Bytes };
  ltrim: { key: Bytes; start: number; stop: number };
  /** LINSERT key BEFORE|AFTER pivot element. */
  linsert: { key: Bytes; pivot: Bytes; element: Bytes; before?: boolean };
  llen: { key: Bytes };
  lrange: { key: Bytes; start: number; stop: number };
  lindex: { key: Bytes; index: number };
  /** LPOS key element [RANK rank] [COUNT count] [MAXLEN maxlen]: rank != 0; no COUNT = one answer. */
  lpos: { key: Bytes; element: Bytes; rank: number; count?: number; maxlen: number };
}

/** What a sorted-set range is by (the `by` of zrange, zrangestore, zremrange). */
export const ZRANGE_BY = { rank: 0, score: 1, lex: 2 } as const;

/** How SINTER*, SUNION* and SDIFF* combine their sets (the `mode` of sstore and scombine). */
export const SET_MODE = { inter: 0, union: 1, diff: 2 } as const;

/** One command, discriminated by `type`. */
export type KvOp = { [K in OpName]: { type: K } & OpShapes[K] }[OpName];
export type OpOf<K extends OpName> = Extract<KvOp, { type: K }>;

/** A WATCHed key and the version the leader read for it (see KvStore.version). */
export interface WatchedKey {
  key: Bytes;
  version: number;
}

/** An eviction victim: a key and its version (log index of its last write) when it was picked. */
export interface Victim {
  key: Bytes;
  version: number;
}

/** The payload of one Normal log entry. */
export interface KvEntry {
  /** The leader's clock (Unix ms) when it proposed the entry: "now" for every op in it. */
  ts: number;
  ops: KvOp[];
  /** For EXEC after WATCH: the whole entry aborts if any of these versions changed. */
  watch?: WatchedKey[];
}

/**
 * Largest absolute time an op may carry (2^52 - 1 ms, about year 144,000). Redis accepts up to
 * 2^63 - 1; the front end answers "invalid expire time" beyond this bound.
 */
export const MAX_TIME_MS = 2 ** 52 - 1;

export function isWriteOp(op: KvOp): boolean {
  return OP[op.type].write;
}
