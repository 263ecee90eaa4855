/**
 * Removal: how a node learns it is no longer a member, and how it tells removed members so.
 *
 * A removed node rarely applies its own removal: the leader commits the change with the other
 * voters and, once it has applied it, stops replicating to the removed node, which may never
 * hear that the entry committed. Left alone it would campaign forever as a pre-candidate that
 * lists itself as a voter. So every node remembers the members it saw removed (applied
 * RemoveNode changes, replayed from the log after a restart), and when one of them dials in,
 * or is still connected, it answers with CloseCode.Removed after proving itself in the
 * handshake (etcd answers a removed member's requests with "the member has been permanently
 * removed from the cluster").
 *
 * A node acts on that only while it believes it is a member (a node joining with empty data is
 * in no configuration yet, and may be refused while its addition is under way), and only when
 * the teller is its leader or it knows none: a member removed and added back under the same id
 * may dial a follower that has applied the removal but not yet the addition, while the leader
 * it follows knows better. Once removed it
 * stops ticking (no more campaigns), drops its peer links, says so once, reports `removed`
 * (/readyz, INFO), and the process exits unless --exit-when-removed no.
 */
import { type ConfChange, ConfChangeType, type ConfState } from '../raft/types.ts';
import type { Logger } from './logger.ts';

/** Members remembered as removed; beyond this the oldest are forgotten (they then get UnknownPeer). */
const MAX_REMEMBERED = 1024;

export interface RemovalHost {
  readonly id: string;
  confState(): ConfState;
  /** The leader this node follows; '' when it knows none. */
  leaderId(): string;
  readonly log: Logger;
  /** This node was removed: stop campaigning and drop peer links (called once). */
  stop(): void;
}

export class Removal {
  private readonly removedIds = new Set<string>();
  private self: string | undefined;

  constructor(private readonly host: RemovalHost) {}

  /** Why this node counts as removed, or undefined while it is a member. */
  get reason(): string | undefined {
    return this.self;
  }

  get removed(): boolean {
    return this.self !== undefined;
  }

  /** A member removed from the configuration this node has applied (told with CloseCode.Removed). */
  wasRemoved(id: string): boolean {
    return this.removedIds.has(id);
  }

  /** Called for every applied conf change. */
  applied(cc: ConfChange): void {
    if (cc.type !== ConfChangeType.RemoveNode) {
      // Added back (with new data, as a removed member must be): no longer removed.
      this.removedIds.delete(cc.node);
      return;
    }
    if (cc.node === this.host.id) {
      this.mark('this node applied its own removal from the cluster');
      return;
    }
    this.removedIds.delete(cc.node);
    this.removedIds.add(cc.node);
    if (this.removedIds.size > MAX_REMEMBERED) this.removedIds.delete(this.removedIds.values().next().value as string);
  }

  /** Peer `by` closed our link with CloseCode.Removed. */
  toldByPeer(by: string): void {
    const conf = this.host.confState();
    // Not in our own configuration: joining (not added yet) or already removed.
    if (!conf.voters.includes(this.host.id) && !conf.learners.includes(this.host.id)) return;
    const leader = this.host.leaderId();
    if (leader !== '' && leader !== by) return;
    this.mark(`member ${by} says this node was removed from the cluster`);
  }

  private mark(reason: string): void {
    if (this.self !== undefined) return;
    this.self = reason;
    this.host.log.warn({ reason }, 'this node was removed from the cluster: it stops campaigning and leaves its peers');
    this.host.stop();
  }
}
