/**
 * Who leads, as this node knows it: the role and leader the Ready loop reports, the last leader
 * known during an election, handing leadership over; and small pure helpers for leadership
 * changes. `Leadership` sees the node only through `LeadershipHost`.
 */

import { encodeConfChange, type RawNode } from '../raft/index.ts';
import type { Entry } from '../raft/types.ts';
import { ConfChangeType, EntryType, NONE, Role } from '../raft/types.ts';
import type { NodeConfig } from './config.ts';
import { NotLeaderError, TransferTimeoutError, UnknownMemberError } from './errors.ts';
import type { Logger } from './logger.ts';
import { encodeMember, type Member, type Members } from './members.ts';

/**
 * Resolves with the id of the next leader other than `self` (an unknown leader, during an
 * election, does not count), or with undefined after `timeoutMs`.
 */
export interface LeaderEvents {
  on(event: 'leader', listener: (id: string) => void): unknown;
  off(event: 'leader', listener: (id: string) => void): unknown;
}

export function nextLeader(events: LeaderEvents, self: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      events.off('leader', onLeader);
      resolve(undefined);
    }, timeoutMs);
    const onLeader = (id: string) => {
      if (id === self || id === NONE) return;
      clearTimeout(timer);
      events.off('leader', onLeader);
      resolve(id);
    };
    events.on('leader', onLeader);
  });
}

/** The most caught-up voter we can reach right now: a dead one could never take over. */
export function bestTransferTarget(
  voters: readonly string[],
  self: string,
  progress: Record<string, { match: number }>,
  connected: (id: string) => boolean,
): string | undefined {
  let best: string | undefined;
  let bestMatch = -1;
  for (const id of voters) {
    if (id === self || !connected(id)) continue;
    const match = progress[id]?.match ?? 0;
    if (match > bestMatch) {
      best = id;
      bestMatch = match;
    }
  }
  return best;
}

/**
 * A new cluster's configuration as committed log entries (as etcd bootstraps), not a snapshot:
 * a node that joins later replays the log from index 1 and must learn the original voters and
 * their addresses from it. Every initial member writes the same entries (sorted by id) in
 * term 1, so their logs match.
 */
export function bootstrapEntries(initial: readonly Member[]): Entry[] {
  const sorted = [...initial].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.map((m, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ type: ConfChangeType.AddVoter, node: m.id, context: encodeMember(m) }),
  }));
}

/** What leader tracking and handover need from the node. */
export interface LeadershipHost {
  readonly core: Pick<RawNode, 'term' | 'status' | 'transferLeadership'>;
  /** The address book: a leader is named to clients by its record. */
  readonly members: Pick<Members, 'get'>;
  /** The node's 'leader' event, which a handover waits on (nextLeader). */
  readonly events: LeaderEvents;
  /** The voters of the applied configuration. */
  voters(): readonly string[];
  /** The outbound peer links (Transport.stats): a voter we cannot reach could never take over. */
  links(): Record<string, { state: string }>;
  scheduleReady(): void;
  /** The known leader changed (NONE: an election is on); the new one is already recorded. */
  leaderChanged(leader: string): void;
}

export class Leadership {
  /** The role the Ready loop last reported; the core may be ahead of it within a turn. */
  role: Role = Role.Follower;
  /** The leader the Ready loop last reported (NONE while none is known). */
  leaderId = NONE;
  /** The most recent leader this node knew, kept while none is known (see lastKnownLeader). */
  private lastLeaderId = NONE;

  constructor(
    private readonly host: LeadershipHost,
    private readonly cfg: Pick<NodeConfig, 'id'>,
    private readonly log: Logger,
  ) {}

  isLeader(): boolean {
    return this.role === Role.Leader;
  }

  leader(): Member | undefined {
    return this.leaderId === NONE ? undefined : this.host.members.get(this.leaderId);
  }

  /**
   * The current leader or, during an election, the last one this node knew. Redis Cluster keeps
   * a failed master as its slots' owner until a replica takes over; clients rely on that.
   */
  lastKnownLeader(): Member | undefined {
    return this.host.members.get(this.leaderId === NONE ? this.lastLeaderId : this.leaderId);
  }

  /** The Ready loop reports the core's soft state. */
  update(role: Role, leader: string): void {
    const leaderChanged = leader !== this.leaderId;
    if (role !== this.role) this.log.info({ role, term: this.host.core.term }, `became ${role}`);
    this.role = role;
    this.leaderId = leader;
    if (leader !== NONE) this.lastLeaderId = leader;
    if (leaderChanged) {
      this.log.info({ leader: leader || null, term: this.host.core.term }, 'leader changed');
      this.host.leaderChanged(leader);
    }
  }

  /** Resolves with the next leader other than this node, or undefined after `timeoutMs`. */
  next(timeoutMs: number): Promise<string | undefined> {
    return nextLeader(this.host.events, this.cfg.id, timeoutMs);
  }

  /** Hand leadership to `to` (or the most caught-up reachable voter); resolves with the new leader. */
  async transfer(to: string | undefined, timeoutMs: number): Promise<string> {
    if (this.role !== Role.Leader) {
      // A voter may ask the leader to hand over to itself: the core forwards the request to the
      // leader, as etcd's does (a multi-group node takes a group's lead to change it, changes.ts).
      const current = this.leader();
      if (to !== this.cfg.id || current === undefined || !this.host.voters().includes(to)) throw new NotLeaderError(current);
      // The next leader other than the one asked to hand over.
      const next = nextLeader(this.host.events, current.id, timeoutMs);
      this.host.core.transferLeadership(to);
      this.host.scheduleReady();
      const leader = await next;
      if (leader === undefined) throw new TransferTimeoutError(to, timeoutMs);
      return leader;
    }
    const links = this.host.links();
    const voters = this.host.voters();
    const target = to ?? bestTransferTarget(voters, this.cfg.id, this.host.core.status().progress ?? {}, (id) => links[id]?.state === 'connected');
    if (!target) throw new UnknownMemberError('(no other reachable voter)');
    if (!voters.includes(target) || target === this.cfg.id) throw new UnknownMemberError(target);
    const next = this.next(timeoutMs);
    this.host.core.transferLeadership(target);
    this.host.scheduleReady();
    const leader = await next;
    if (leader === undefined) throw new TransferTimeoutError(target, timeoutMs);
    return leader;
  }
}
