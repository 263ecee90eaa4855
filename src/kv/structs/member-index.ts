/**
 * member -> position for a large sorted set, a Map that never rehashes a million entries in one
 * go. A V8 Map grows by rebuilding its whole table inside the one `set` that fills it: 67 ms of
 * CPU at 2^20 string keys (measured), one event-loop slice well past the 50 ms a snapshot
 * restore may hold it (issue 14). So below SHARD_AT entries this is one Map; the add that
 * reaches SHARD_AT spreads them over SHARDS Maps by a hash of the member (once), and each of
 * those then grows and rehashes at 1/SHARDS of the size. The spread is itself one slice: at
 * 2^16 entries it took 24-63 ms (the longest `set` of a 1M-member fill, three runs; twice that
 * on a contended 2-core machine), at 2^13 it is below the few ms a shard's own rehash costs, so
 * no `set` of a 1M-member fill took more than 6-17 ms, collections included. 64 Maps for a set
 * of 8k members cost a few bytes per member; a small sorted set keeps its one Map.
 *
 * The shard a member lands in is a pure function of its bytes, and nothing observable depends
 * on it (positions live in the sorted set's arrays), so replicas agree whatever it is. Members
 * crafted to share one shard only bring back the one big rehash, never a wrong answer.
 */
const SHARD_AT = 1 << 13;
const SHARDS = 64;

/** FNV-1a over the member's chars (latin1 bytes), folded to a shard. */
function shardOf(member: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < member.length; i++) h = Math.imul(h ^ member.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 16)) & (SHARDS - 1);
}

export class MemberIndex {
  private one: Map<string, number> | null = new Map();
  private shards: Map<string, number>[] | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(member: string): number | undefined {
    return this.one !== null ? this.one.get(member) : this.shards![shardOf(member)].get(member);
  }

  set(member: string, position: number): void {
    const map = this.one ?? this.shards![shardOf(member)];
    const before = map.size;
    map.set(member, position);
    if (map.size === before) return;
    this.count++;
    if (this.one !== null && this.count >= SHARD_AT) this.spread();
  }

  delete(member: string): boolean {
    const map = this.one ?? this.shards![shardOf(member)];
    if (!map.delete(member)) return false;
    this.count--;
    return true;
  }

  clone(): MemberIndex {
    const c = new MemberIndex();
    c.count = this.count;
    c.one = this.one === null ? null : new Map(this.one);
    c.shards = this.shards === null ? null : this.shards.map((m) => new Map(m));
    return c;
  }

  private spread(): void {
    const shards: Map<string, number>[] = [];
    for (let i = 0; i < SHARDS; i++) shards.push(new Map());
    for (const [m, p] of this.one!) shards[shardOf(m)].set(m, p);
    this.shards = shards;
    this.one = null;
  }
}
