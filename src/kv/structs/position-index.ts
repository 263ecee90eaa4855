/**
 * string -> position for a hash or set in its hashtable encoding, whose strings already sit in
 * an array (the hash's fields, the set's members). A V8 Map keeps key, value and chain per
 * entry plus a bucket per two: 28 bytes per slot, 37-56 per entry at its load factors. From
 * TABLE_AT entries this is an open-addressing table instead: a slot is 4 bytes (position + 1)
 * and each position keeps its string's hash (4), ~14-19 bytes per entry at 100k-1M
 * (docs/performance.md "Memory per element per type"). Below TABLE_AT it is a Map, which is
 * smaller there: the table's two typed arrays cost ~600 bytes before their first entry.
 *
 * Linear probing, load at most 3/4, deletes by backward shift (no tombstones), and the table
 * doubles whole (from the kept hashes, no string is hashed again: a few ms at 2^20). The hash
 * is unseeded (apply reads no randomness), so strings can be crafted to collide; a probe longer
 * than MAX_PROBE, in a lookup or an insert, hands the index back to a Map (V8's is seeded) for
 * good, so a crafted key set costs what it costs a Map, never quadratic time. Honest keys stay
 * far below it: the longest probe measured at load 3/4 was 173 slots at 786k keys, mean 1.5.
 * Where a string lands is not observable (positions live in the owner's arrays), so replicas
 * may differ in it, or in which of the two they use, and still agree.
 */
const TABLE_AT = 128;
const MAX_PROBE = 1024;
const NONE = new Int32Array(0);

/** FNV-1a over the string's chars (latin1 bytes for the keyspace's binary strings), then murmur3's finalizer to spread it into the low bits the table uses. */
export function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class PositionIndex {
  /** position + 1 per slot, 0 empty (table only). */
  private slots = NONE;
  /** The hash of the string at each position (table only). */
  private hashes = NONE;
  private count = 0;
  /** Below TABLE_AT entries, or for good once probing ran long: answers instead of the table. */
  private map: Map<string, number> | null = new Map();
  private crafted = false;
  /** The last key find hashed, and its hash: an add right after a missed find (HSET, SADD of a new string) need not hash it again. */
  private lastKey = '';
  private lastHash = hashOf('');

  /** Indexes keys[0..n) at their positions; `keys` is the owner's array, passed on every call. */
  constructor(keys: readonly string[]) {
    for (let i = 0; i < keys.length; i++) this.map!.set(keys[i], i);
    if (keys.length >= TABLE_AT) this.toTable(keys);
  }

  /** The position of key in keys, or -1. */
  find(keys: readonly string[], key: string): number {
    if (this.map !== null) return this.map.get(key) ?? -1;
    const h = hashOf(key);
    this.lastKey = key;
    this.lastHash = h;
    const mask = this.slots.length - 1;
    for (let s = h & mask, probe = 0; ; s = (s + 1) & mask, probe++) {
      const p = this.slots[s] - 1;
      if (p < 0) return -1;
      if (this.hashes[p] === h && keys[p] === key) return p;
      if (probe === MAX_PROBE) {
        this.toMap(keys, this.count);
        return this.find(keys, key);
      }
    }
  }

  /** Indexes keys[position], the new last position (not indexed yet). */
  add(keys: readonly string[], position: number): void {
    if (this.map !== null) {
      this.map.set(keys[position], position);
      if (this.map.size >= TABLE_AT && !this.crafted) this.toTable(keys);
      return;
    }
    if (this.count === this.hashes.length) this.grow();
    const key = keys[position];
    if (!this.place(key === this.lastKey ? this.lastHash : hashOf(key), position)) this.toMap(keys, position + 1);
  }

  /**
   * Forgets the string at `position` (the one the owner removes) and, when `last` differs, records
   * that keys[last] moves to `position` (the owner's swap with its last element): call before the
   * owner's arrays change.
   */
  remove(keys: readonly string[], position: number, last: number): void {
    if (this.map !== null) {
      this.map.delete(keys[position]);
      if (last !== position) this.map.set(keys[last], position);
      return;
    }
    this.unslot(this.slotOf(position));
    if (last !== position) {
      this.slots[this.slotOf(last)] = position + 1;
      this.hashes[position] = this.hashes[last];
    }
    this.count--;
  }

  clone(): PositionIndex {
    const c = new PositionIndex([]);
    c.slots = this.slots.slice();
    c.hashes = this.hashes.slice();
    c.count = this.count;
    c.map = this.map === null ? null : new Map(this.map);
    c.crafted = this.crafted;
    return c;
  }

  /** Puts `position` (hash h) in the table; false when its probe ran past MAX_PROBE. */
  private place(h: number, position: number): boolean {
    const mask = this.slots.length - 1;
    let s = h & mask;
    for (let probe = 0; this.slots[s] !== 0; probe++, s = (s + 1) & mask) {
      if (probe === MAX_PROBE) return false;
    }
    this.slots[s] = position + 1;
    this.hashes[position] = h;
    this.count++;
    return true;
  }

  /** The slot holding `position`, found by its kept hash. */
  private slotOf(position: number): number {
    const mask = this.slots.length - 1;
    let s = this.hashes[position] & mask;
    while (this.slots[s] !== position + 1) s = (s + 1) & mask;
    return s;
  }

  /** Empties slot s, shifting back the entries after it that probed past it. */
  private unslot(s: number): void {
    const mask = this.slots.length - 1;
    let hole = s;
    for (let j = (s + 1) & mask; this.slots[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[this.slots[j] - 1] & mask;
      // The entry at j may fill the hole unless its home lies in (hole, j] (cyclically).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.slots[hole] = this.slots[j];
        hole = j;
      }
    }
    this.slots[hole] = 0;
  }

  /** Twice the slots; the positions go back in from their kept hashes. */
  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let p = 0; p < this.count; p++) {
      let s = this.hashes[p] & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = p + 1;
    }
    const hashes = new Int32Array((slots.length * 3) / 4);
    hashes.set(this.hashes);
    this.slots = slots;
    this.hashes = hashes;
  }

  /** From the Map to a table of keys[0..n), unless the keys collide past MAX_PROBE. */
  private toTable(keys: readonly string[]): void {
    let size = 8;
    while ((size * 3) / 4 < keys.length) size *= 2;
    this.slots = new Int32Array(size);
    this.hashes = new Int32Array((size * 3) / 4);
    this.count = 0;
    for (let i = 0; i < keys.length; i++) {
      if (!this.place(hashOf(keys[i]), i)) {
        this.slots = this.hashes = NONE;
        this.crafted = true;
        return;
      }
    }
    this.map = null;
  }

  /** Back to a Map of keys[0..n), for good. */
  private toMap(keys: readonly string[], n: number): void {
    const map = new Map<string, number>();
    for (let i = 0; i < n; i++) map.set(keys[i], i);
    this.map = map;
    this.crafted = true;
    this.slots = this.hashes = NONE;
  }
}
