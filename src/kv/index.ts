/**
 * kv: RaftKV's replicated LRU+TTL key-value state machine.
 *
 * How the runtime uses it:
 *  - Leader, on a client write: build a KvEntry `{ ts: <its clock>, ops, watch? }` (relative
 *    TTLs already turned into absolute ms, within MAX_TIME_MS), refuse it with ERR.oom first
 *    if `store.overMaxmemory()` and the policy cannot evict, then propose `encodeEntry(entry)`.
 *  - Every node, per committed Normal entry with data: `store.apply(decodeEntry(data), index)`
 *    and hand the KvResult[] (one per op, or a single `aborted` for a failed WATCH) to whoever
 *    waits on that index. A result `{ type: 'publish', channel, message }` is a message for
 *    this node's subscribers; the client's reply is the receiver count.
 *  - Leader duties: `expiredSample(now, n)` -> propose `{ type: 'expireIf', key, at: expiresAt }`
 *    per key; while `bytesOverMaxmemory() > 0`, `evictionCandidates(bytes, policy, rng)` ->
 *    propose `{ type: 'evictIf', victims }`. Keep one batch of each in flight: the same keys come
 *    back until their op is applied. `nextExpiry()` tells when the next key falls due.
 *  - Reads (after ReadIndex, or stale with READONLY): `get`, `exists`, `ttl`, `expireTime`,
 *    `strlen`, `type`, `keys`, `scan`, `randomKey`, `dbsize`, with the node's clock; they treat
 *    expired keys as absent and never delete. `{ touch: true }` marks a key recently used
 *    (GET-like reads on the leader). WATCH reads `version(key, now)` on the leader.
 *  - Cluster-wide settings (CONFIG SET requirepass, maxmemory, maxmemory-policy): propose one
 *    `{ type: 'config', pairs }` op with canonical values; its result `{ type: 'settings' }`
 *    tells the node to adopt `store.settings` (also after a restore). `store.maxmemory` and
 *    `store.policy` already follow them.
 *  - Idempotent writes (HTTP Idempotency-Key): put `{ type: 'session', key, fingerprint, ttlMs }`
 *    first in the entry. Results: `[applied|replayed, index]` then one per further op, the first
 *    results again on a replay, or a single error (SESSION_ERR) for a key reused with another
 *    fingerprint. See sessions.ts.
 *  - Snapshots: `for await (const chunk of store.beginSnapshot())` while applies continue;
 *    `await store.restore(chunksOrBytes)` to install one (apply throws meanwhile). Both work in
 *    slices of a few ms and yield to the event loop between them.
 *  - Sharding (issue 13; owned.ts, split.ts): a store owns slot ranges (`new KvStore({ slots })`,
 *    default all). An entry naming a key of another slot applies nothing: its one result is
 *    `{ type: 'moved', slot }`. Reads do not see such keys; `ownsKey` / `ownsSlot` let the front
 *    end answer MOVED before reading. A split is one entry `{ type: 'split', atSlot, group }`,
 *    alone (check `splitProblem` before proposing); its result `{ type: 'split', index, group,
 *    slots }` means `takeSplitImage(group)` now holds the new group's image at that index, to
 *    stream into `new KvStore().restore(image)`. While `cleanupPending > 0` the leader proposes
 *    `{ type: 'dropUnowned', limit }` (one in flight) to delete the given-up keys.
 *
 * Determinism: nothing here reads a clock or Math.random. Time comes from entry.ts (reads take
 * `nowMs`), randomness from an injected Rng (RANDOMKEY inside a MULTI uses a PRNG seeded by
 * the log index). Memory accounting is Σ (key bytes + value bytes + ITEM_OVERHEAD), identical
 * on every replica. LRU order is leader-local bookkeeping: EVICT carries the chosen keys.
 */
export { MAX_STRING_BYTES } from './apply.ts';
export { decodeEntry, encodeEntry, entryTs } from './codec.ts';
export { DUMP_ERR, decodePayload, dumpPayload, isRefused } from './dump.ts';
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
  SET_MODE,
  type TimeUnit,
  type Victim,
  type WatchedKey,
  ZAGGREGATE,
  ZRANGE_BY,
} from './ops.ts';
export { ALL_SLOTS, LAST_SLOT, type SlotRange, SlotSet, slotRangesProblem } from './owned.ts';
export { mulberry32 } from './prng.ts';
export { ERR, invalidExpireTime, type KvResult } from './results.ts';
export {
  MAX_FINGERPRINT_BYTES,
  MAX_SESSION_BYTES,
  MAX_SESSION_KEY_BYTES,
  MAX_SESSION_TTL_MS,
  SESSION_ERR,
} from './sessions.ts';
export { type ClusterSettings, type IgnoredSetting, mergeSettings } from './settings.ts';
export { binarySlot, crc16, keyHashSlot, SLOT_COUNT } from './slot.ts';
export { SnapshotWriter } from './snapshot.ts';
export { SNAPSHOT_CHUNK_BYTES, snapshotImageProblem, snapshotImageSummary } from './snapshot-format.ts';
export { MAX_DROP_EXAMINED, SPLIT_ERR, type SplitRecord, splitProblem } from './split.ts';
export { type ExpiredKey, KvStore, type KvStoreOptions } from './store.ts';
export type { ReadOptions, ScanOptions } from './store-reads.ts';
export { ERR_RANDOM_COUNT, MAX_RANDOM_COUNT } from './structs/random.ts';
export { TYPE, type TypeName, WRONG_TYPE } from './types.ts';
