/**
 * Append/reject loops: a follower whose log conflicts with the leader's below its own commit
 * index (data from another cluster under the same id, a copied data directory) can never be
 * repaired by Raft. It rejects the leader's append, answers the next probe with its commit
 * index, rejects the resend, and so on at heartbeat rate, each round carrying up to a megabyte
 * of entries: the leader and the follower burn CPU and neither says a word (issue 12 measured
 * 30 % and 44 %). Cluster ids (cluster-id.ts) refuse most such nodes at the handshake; this is
 * the net behind them, for any cause.
 *
 * - The follower counts the appends it rejects from a leader while its own log does not move,
 *   and past a threshold warns, at most once a minute, with what it knows (the rejected index,
 *   its commit index).
 * - The leader counts rejections from each follower while that follower's match index does not
 *   move, and past the threshold stops sending it appends for a while (heartbeats still go, so
 *   it does not campaign), doubling the pause up to a ceiling; dropping appends is what a lossy
 *   network does, which Raft tolerates. It warns when it starts backing off, at most once a
 *   minute per follower. Any progress of the follower ends the pause.
 *
 * A follower catching up rejects a few appends (one per conflicting term, with the hint) and
 * then moves; the threshold is far above that.
 */
import { type Message, MessageType } from '../raft/types.ts';
import type { Logger } from './logger.ts';

export const REJECT_LOOP = {
  /** Rejections without progress before it counts as a loop. */
  threshold: 20,
  firstPauseMs: 1000,
  maxPauseMs: 30_000,
  /** Between two warnings about the same peer. */
  warnEveryMs: 60_000,
} as const;

interface Streak {
  rejects: number;
  /** Follower side: our last index when the streak began. Leader side: the follower's match. */
  mark: number;
  pauseMs: number;
  pausedUntil: number;
  warnedAt: number;
}

export interface RejectLoopHost {
  readonly log: Logger;
  /** This node's last log index and commit index. */
  logPosition(): { lastIndex: number; commit: number };
  /** The leader's match index for `peer`, when this node leads. */
  matchOf(peer: string): number | undefined;
  now(): number;
}

export class RejectLoops {
  /** By leader, on a follower. */
  private readonly rejecting = new Map<string, Streak>();
  /** By follower, on the leader. */
  private readonly rejected = new Map<string, Streak>();

  constructor(private readonly host: RejectLoopHost) {}

  /** Whether appends to `peer` are paused now (for status and tests). */
  paused(peer: string): boolean {
    return (this.rejected.get(peer)?.pausedUntil ?? 0) > this.host.now();
  }

  /** Outgoing messages, less the appends to followers in a paused loop; notes our own rejections. */
  outgoing(messages: Message[]): Message[] {
    let kept: Message[] | undefined;
    const now = this.host.now();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (m.type === MessageType.AppResp) this.answered(m, now);
      const drop = m.type === MessageType.App && (this.rejected.get(m.to)?.pausedUntil ?? 0) > now;
      if (drop && !kept) kept = messages.slice(0, i);
      else if (!drop && kept) kept.push(m);
    }
    return kept ?? messages;
  }

  /** An incoming message: on the leader, a follower's answer to an append. */
  incoming(m: Message): void {
    if (m.type !== MessageType.AppResp || (!m.reject && !this.rejected.has(m.from))) return;
    const match = this.host.matchOf(m.from);
    if (match === undefined) return;
    const s = this.rejected.get(m.from);
    if (!m.reject) {
      // Progress (its match moved) ends the streak; an answer at the same place does not.
      if (s && match > s.mark) this.rejected.delete(m.from);
      return;
    }
    if (!s || match > s.mark) {
      this.rejected.set(m.from, { rejects: 1, mark: match, pauseMs: 0, pausedUntil: 0, warnedAt: Number.NEGATIVE_INFINITY });
      return;
    }
    s.rejects++;
    const now = this.host.now();
    if (s.rejects < REJECT_LOOP.threshold || s.pausedUntil > now) return;
    s.pauseMs = Math.min(REJECT_LOOP.maxPauseMs, s.pauseMs === 0 ? REJECT_LOOP.firstPauseMs : s.pauseMs * 2);
    s.pausedUntil = now + s.pauseMs;
    s.rejects = 0;
    if (now - s.warnedAt >= REJECT_LOOP.warnEveryMs) {
      s.warnedAt = now;
      this.host.log.warn(
        { peer: m.from, match, rejectedIndex: m.index, hint: m.rejectHint, pauseMs: s.pauseMs },
        'follower rejects appends in a loop without progress (its log conflicts with ours below its commit index: data from another cluster?); backing off',
      );
    }
  }

  /** Our own answer to a leader's append (follower side). */
  private answered(m: Message, now: number): void {
    const { lastIndex, commit } = this.host.logPosition();
    const s = this.rejecting.get(m.to);
    if (!m.reject) {
      if (s && lastIndex > s.mark) this.rejecting.delete(m.to);
      return;
    }
    if (!s || lastIndex > s.mark) {
      this.rejecting.set(m.to, { rejects: 1, mark: lastIndex, pauseMs: 0, pausedUntil: 0, warnedAt: Number.NEGATIVE_INFINITY });
      return;
    }
    s.rejects++;
    if (s.rejects < REJECT_LOOP.threshold || now - s.warnedAt < REJECT_LOOP.warnEveryMs) return;
    s.warnedAt = now;
    this.host.log.warn(
      { leader: m.to, rejected: s.rejects, rejectedIndex: m.index, lastIndex, commit },
      "rejecting the leader's appends in a loop: this node's log conflicts with the leader's below its commit index (data from another cluster?); replace its data: remove it, empty its data directory, add it back with --join",
    );
  }
}
