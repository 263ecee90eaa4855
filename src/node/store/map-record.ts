/**
 * Group 0, the metadata group, is an ordinary group whose state machine holds the slot map in
 * one reserved key, as CockroachDB keeps its range descriptors in ordinary (meta) ranges. So
 * group 0 runs today's core, KV state machine, snapshots and catch-up unchanged, and a map
 * change is an ordinary write:
 *
 *  - the change is validated on group 0's leader against the map it has applied
 *    (src/shard `validate`), and the new map computed there (`apply`, pure);
 *  - it is proposed as one SET of the map key WATCHing the key's version (the log index of the
 *    map it was computed from), so if another change committed first the entry applies nothing
 *    and the caller plans again: the compare-and-set that `epoch` stands for, enforced by apply;
 *  - every node applies group 0's log and reads the map back from its own state machine.
 *
 * Group 0 is never routed to by clients (it owns no slot), so nothing else writes the key.
 */
import type { KvResult, KvStore } from '../../kv/index.ts';
import { apply, decodeMap, encodeMap, type ShardOp, type ShardOpBody, type SlotMap, validate } from '../../shard/index.ts';

export const MAP_KEY = Buffer.from('raftkv:slot-map');

export interface MapRecord {
  map: SlotMap;
  /** The log index of the write that stored it (WATCH compares it). */
  version: number;
}

/** The map group 0's state machine holds, or undefined before its first entry is applied. */
export function readMap(kv: KvStore, now: number): MapRecord | undefined {
  const bytes = kv.get(MAP_KEY, now);
  if (bytes === null) return undefined;
  return { map: decodeMap(bytes), version: kv.version(MAP_KEY, now) };
}

/** Seeds group 0's state machine with the map of a new cluster (before its first index). */
export function seedMap(kv: KvStore, map: SlotMap): void {
  kv.apply({ ts: 0, ops: [{ type: 'set', key: MAP_KEY, value: encodeMap(map) }] }, 0);
}

export class MapChangeError extends Error {
  override name = 'MapChangeError';
}

/** What a map change needs from group 0's replica on this node. */
export interface MapGroup {
  readonly kv: KvStore;
  now(): number;
  isLeader(): boolean;
  linearizableBarrier(): Promise<void>;
  propose(ops: Parameters<KvStore['apply']>[0]['ops'], watch?: { key: Uint8Array; version: number }[]): Promise<KvResult[]>;
}

/**
 * Applies `body` to the current map through group 0's log, on its leader: resolves with the new
 * map once committed and applied here; rejects with MapChangeError when the change is refused
 * (the operator's error) or lost a race with another change `attempts` times.
 */
export async function changeMap(group: MapGroup, body: ShardOpBody, attempts = 3): Promise<SlotMap> {
  for (let i = 0; i < attempts; i++) {
    // The map this node has applied is at least as new as every change committed before now.
    await group.linearizableBarrier();
    const current = readMap(group.kv, group.now());
    if (!current) throw new MapChangeError('this cluster has no slot map (it runs one group)');
    const op = { ...body, epoch: current.map.epoch } as ShardOp;
    const problem = validate(current.map, op);
    if (problem) throw new MapChangeError(problem);
    const next = apply(current.map, op);
    if (next.error) throw new MapChangeError(next.error);
    if (next.map === current.map) return current.map;
    const [result] = await group.propose([{ type: 'set', key: MAP_KEY, value: encodeMap(next.map) }], [{ key: MAP_KEY, version: current.version }]);
    if (result?.type !== 'aborted') return next.map;
  }
  throw new MapChangeError(`the slot map kept changing; ${attempts} attempts lost the race, try again`);
}
