/**
 * kv: RaftKV's replicated LRU+TTL key-value state machine.
 *
 * How the runtime uses it:
 *  - Leader, on a client write: build a KvEntry `{ ts: Date.now(), ops, watch? }` (relative
 *    TTLs already turned into absolute ms), refuse it with ERR.oom first if
 *    `store.overMaxmemory()` and the policy cannot evict (noeviction, or nothing evictable),
 *    then propose `encodeEntry(entry)`.
 *  - Every node, per committed Normal entry with data: `store.apply(decodeEntry(data), index)`
 *    and hand the KvResult[] to whoever waits on that index. A `publish` result is a message to
 *    deliver to this node's subscribers.
 *  - Leader duties: `expiredSample(now, n)` -> propose `{ type: 'expireIf', key, at: expiresAt }`
 *    per key; when `bytesOverMaxmemory() > 0`, `evictionCandidates(bytes, policy, rng)` ->
 *    propose `{ type: 'evict', keys }`. Keep one batch of each in flight: the same keys come
 *    back until their op is applied.
 *  - Reads (after ReadIndex, or stale with READONLY): `get`, `exists`, `ttl`, ... with the
 *    node's clock; they never delete. WATCH reads `version(key, now)` on the leader.
 *  - Snapshots: `for await (const chunk of store.beginSnapshot())` while applies continue;
 *    `await store.restore(chunks)` to install one.
 *
 * Determinism: nothing here reads a clock or Math.random. Time comes from entry.ts (reads take
 * `nowMs`), randomness from an injected Rng. Memory accounting is Σ (key bytes + value bytes
 * + ITEM_OVERHEAD), identical on every replica.
 */
export { MAX_STRING_BYTES } from './apply.ts';
export { decodeEntry, encodeEntry } from './codec.ts';
export {
  KvDecodeError,
  KvEncodeError,
  RestoreInProgressError,
  SnapshotAbortedError,
  SnapshotFormatError,
} from './errors.ts';
export { EVICTION_POLICIES, type EvictionPolicy, isEvictionPolicy } from './eviction.ts';
export { globMatch } from './glob.ts';
export { ITEM_OVERHEAD } from './item.ts';
export { parseInt64 } from './numbers.ts';
export {
  isWriteOp,
  type KvEntry,
  type KvOp,
  MAX_TIME_MS,
  OP,
  type OpName,
  type OpOf,
  type Rng,
  type TimeUnit,
  type WatchedKey,
} from './ops.ts';
export { ERR, invalidExpireTime, type KvResult } from './results.ts';
export { SNAPSHOT_CHUNK_BYTES, SnapshotWriter } from './snapshot.ts';
export { type ExpiredKey, KvStore, type KvStoreOptions, type ReadOptions, type ScanOptions } from './store.ts';
