/**
 * When this node last heard from each peer (any Raft message), by the wall clock of the
 * runtime, never the core's (src/raft/ reads no clock). On the leader every voter and learner
 * answers each heartbeat, so "not heard within an election timeout" is etcd's sign of a member
 * that is down or cut off; a follower hears only the leader, so it cannot judge the others
 * (/v1/cluster says so rather than guess).
 */
export class PeerContact {
  private readonly heardAt = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  heard(id: string): void {
    this.heardAt.set(id, this.clock());
  }

  /** Milliseconds since `id` was last heard from; undefined if never (since this process started). */
  sinceMs(id: string): number | undefined {
    const at = this.heardAt.get(id);
    return at === undefined ? undefined : Math.max(0, this.clock() - at);
  }
}
