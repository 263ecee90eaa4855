/**
 * Choosing eviction victims, for the leader only. The chosen keys are proposed as an EVICT op,
 * so every replica deletes exactly the same keys whatever its own LRU order is.
 */
import type { Item } from './item.ts';
import type { Keyspace } from './keyspace.ts';
import type { Rng } from './ops.ts';

/** Redis's maxmemory-policy values that RaftKV supports. */
export const EVICTION_POLICIES = ['noeviction', 'allkeys-lru', 'volatile-lru', 'allkeys-random', 'volatile-ttl'] as const;
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

export function isEvictionPolicy(s: string): s is EvictionPolicy {
  return (EVICTION_POLICIES as readonly string[]).includes(s);
}

/**
 * Keys to delete, in eviction order, until their accounted bytes reach `bytesToFree` or
 * `maxKeys` keys are chosen. May free less when the policy runs out of candidates (no volatile
 * keys for volatile-*, or noeviction): the runtime then refuses writes with -OOM.
 */
export function chooseVictims(ks: Keyspace, bytesToFree: number, policy: EvictionPolicy, rng: Rng, maxKeys: number): Item[] {
  const out: Item[] = [];
  if (bytesToFree <= 0 || maxKeys <= 0) return out;
  let freed = 0;
  const take = (item: Item): boolean => {
    out.push(item);
    freed += item.bytes;
    return freed < bytesToFree && out.length < maxKeys;
  };
  switch (policy) {
    case 'noeviction':
      return out;
    case 'allkeys-lru':
      for (let item = ks.lru.head; item !== null && take(item); item = item.next);
      return out;
    case 'volatile-lru':
      for (let item = ks.lru.vhead; item !== null && take(item); item = item.vnext);
      return out;
    case 'volatile-ttl':
      ks.heap.ascending(take);
      return out;
    case 'allkeys-random': {
      const order = ks.order;
      const chosen = new Set<Item>();
      // Rejection sampling; the attempt bound only matters when few keys are left.
      for (let attempt = 0; attempt < 4 * maxKeys + 64 && chosen.size < ks.size; attempt++) {
        const item = order[Math.floor(rng() * order.length)];
        if (!item.live || chosen.has(item)) continue;
        chosen.add(item);
        if (!take(item)) return out;
      }
      return out;
    }
  }
}
