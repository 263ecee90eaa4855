/**
 * Nodes being drained before removal (`raftkv member drain`, issue 13): a set of node ids in
 * group 0's state machine, next to the slot map (map-record.ts), so every node, and whichever
 * node leads group 0 next, sees the same set. The rebalancer moves every replica and leader off a
 * draining node (src/shard/planner.ts); a drained node holds nothing and can be removed.
 */
import type { KvStore } from '../../kv/index.ts';
import { MapChangeError, type MapGroup } from './map-record.ts';

export const DRAIN_KEY = Buffer.from('raftkv:draining');

/** The draining node ids, sorted. */
export function readDraining(kv: KvStore, now: number): string[] {
  const bytes = kv.get(DRAIN_KEY, now);
  if (bytes === null || bytes.length === 0) return [];
  return bytes.toString('utf8').split(',').sort();
}

/** Marks `node` draining (or not), through group 0's log; resolves with the new set. */
export async function setDraining(group: MapGroup, node: string, draining: boolean, attempts = 3): Promise<string[]> {
  for (let i = 0; i < attempts; i++) {
    await group.linearizableBarrier();
    const now = group.now();
    const current = readDraining(group.kv, now);
    const next = draining ? [...new Set([...current, node])].sort() : current.filter((n) => n !== node);
    if (next.length === current.length && next.every((n, j) => n === current[j])) return current;
    const version = group.kv.version(DRAIN_KEY, now);
    const [r] = await group.propose([{ type: 'set', key: DRAIN_KEY, value: Buffer.from(next.join(',')) }], [{ key: DRAIN_KEY, version }]);
    if (r?.type !== 'aborted') return next;
  }
  throw new MapChangeError(`the set of draining nodes kept changing; ${attempts} attempts lost the race, try again`);
}
