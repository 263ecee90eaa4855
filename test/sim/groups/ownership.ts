/**
 * Which group owns each slot, as the groups' own split entries say (issue 13's invariant: at
 * every map epoch a key is served by one group only). The timeline starts from the initial
 * layout; the first replica of a parent to apply a split entry moves the split's slots to the
 * new group as of that entry's index. Against it:
 *
 * - every replica applies an entry naming keys only while the timeline gives its group every
 *   one of them at that index, and refuses it `moved` otherwise: a store that applied it would
 *   serve a key another group serves too, one that refused it would lose a key nobody serves;
 * - every replica of a parent splits the same slots to the same group at the same index;
 * - at every map epoch, each slot's owner in the map is the group owning it, or an ancestor
 *   whose split of it the map has not recorded yet (clients then get MOVED, never a stale value).
 */
import { type KvEntry, type KvResult, keyHashSlot, SLOT_COUNT, type SplitRecord } from '../../../src/kv/index.ts';
import type { SlotMap } from '../../../src/shard/index.ts';
import type { GroupId } from './replicas.ts';

const dec = new TextDecoder();

export class Ownership {
  private readonly owner = new Int32Array(SLOT_COUNT);
  private readonly parentOf = new Map<GroupId, GroupId>();
  /** Per group, the slots it gained: its share of the layout, or what its split gave it. */
  private readonly gained = new Map<GroupId, readonly [number, number]>();
  /** Per group, the slots it gave up, each with the index of its split entry. */
  private readonly gaveUp = new Map<GroupId, SplitRecord[]>();

  constructor(map: SlotMap) {
    // The initial layout gives each group one contiguous range.
    for (const r of map.ranges) {
      this.owner.fill(r.group, r.start, r.end + 1);
      this.gained.set(r.group, [r.start, r.end]);
    }
  }

  /** Data groups there are: the layout's and every one a split entry started. */
  get groups(): number {
    return this.gained.size;
  }

  /** The group owning `slot` now, per the split entries applied so far. */
  ownerOf(slot: number): GroupId {
    return this.owner[slot];
  }

  /** The parent `group` was split off from and the index of that split entry (undefined for a group of the layout). */
  splitOf(group: GroupId): { parent: GroupId; index: number } | undefined {
    const parent = this.parentOf.get(group);
    const rec = parent === undefined ? undefined : this.gaveUp.get(parent)!.find((r) => r.group === group);
    return rec && parent !== undefined ? { parent, index: rec.index } : undefined;
  }

  /** A replica of `parent` applied the split `rec`: the problem, or undefined. */
  split(parent: GroupId, rec: SplitRecord): string | undefined {
    const known = this.gaveUp.get(parent)?.find((x) => x.index === rec.index);
    if (known) {
      const same = known.group === rec.group && known.slots[0] === rec.slots[0] && known.slots[1] === rec.slots[1];
      return same ? undefined : `replicas of g${parent} split differently at index ${rec.index}`;
    }
    const [a, b] = rec.slots;
    for (let s = a; s <= b; s++) {
      if (this.owner[s] !== parent) return `g${parent} gave up slot ${s} at index ${rec.index}, but g${this.owner[s]} owns it`;
    }
    if (this.gained.has(rec.group)) return `g${parent} split off g${rec.group} at index ${rec.index}, which already exists`;
    this.owner.fill(rec.group, a, b + 1);
    this.gained.set(rec.group, [a, b]);
    this.parentOf.set(rec.group, parent);
    this.gaveUp.set(parent, [...(this.gaveUp.get(parent) ?? []), rec]);
    return undefined;
  }

  /** Whether `group`'s state owns `slot` once it applied `index`. */
  owns(group: GroupId, slot: number, index: number): boolean {
    const range = this.gained.get(group);
    if (!range || slot < range[0] || slot > range[1]) return false;
    return !(this.gaveUp.get(group) ?? []).some((r) => r.index <= index && r.slots[0] <= slot && slot <= r.slots[1]);
  }

  /**
   * A replica of `group` applied the KV entry at `index` with `results`: the problem, or
   * undefined. An entry naming a key its group does not own at that index must come back
   * `moved` and do nothing; one naming only owned keys must apply.
   */
  checkEntry(group: GroupId, replica: string, index: number, entry: KvEntry, results: readonly KvResult[]): string | undefined {
    const moved = results.length === 1 && results[0].type === 'moved';
    const who = `g${group} on ${replica} at index ${index}`;
    for (const key of entryKeys(entry)) {
      const slot = keyHashSlot(key);
      if (this.owns(group, slot, index)) continue;
      if (moved) return undefined;
      return `${who} applied an entry for ${dec.decode(key)} (slot ${slot}), which g${this.owner[slot]} owns`;
    }
    return moved ? `${who} refused an entry as moved (slot ${(results[0] as { slot: number }).slot}), though it owns every key of it` : undefined;
  }

  /** At a new map epoch: the problem, or undefined. */
  checkMap(map: SlotMap): string | undefined {
    for (const r of map.ranges) {
      for (let s = r.start; s <= r.end; s++) {
        let g: GroupId | undefined = this.owner[s];
        while (g !== undefined && g !== r.group) g = this.parentOf.get(g);
        if (g === undefined) return `map epoch ${map.epoch} gives slot ${s} to g${r.group}, but g${this.owner[s]} owns it`;
      }
    }
    return undefined;
  }
}

/** The keys an entry names (WATCHed ones too), for the ops the simulated clients send. */
function entryKeys(entry: KvEntry): Uint8Array[] {
  const keys = (entry.watch ?? []).map((w) => w.key);
  for (const op of entry.ops) {
    if (op.type === 'set' || op.type === 'incrby') keys.push(op.key);
    else if (op.type === 'del') keys.push(...op.keys);
  }
  return keys;
}
