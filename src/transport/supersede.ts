/**
 * Messages that a later message waiting for the same flush makes redundant (issue 13): left out
 * of the link's next frames (send-queue.ts) before they cost a round. With many small groups per
 * node, each group's rounds are a large part of a SET's cost (docs/performance.md, "Shards"),
 * and under load about half of the commit-only Apps and acks a node sends are followed, in the
 * same flush to that peer, by one that says as much and more:
 *
 *  - A commit-only App. When a leader's commit index moves (a follower's AppResp, or its own
 *    append made durable) the core tells every follower at once (etcd's bcastAppend after
 *    maybeCommit); to a follower that has every entry, that App is empty. The proposals of the
 *    same turn then make the core send that follower an App with entries, from the same previous
 *    index, with at least that commit index. The follower would handle the empty one (a step, a
 *    Ready, a hard-state write) and answer it for nothing.
 *  - An ack. A follower that steps several Apps of a group before its Readies are durable (a
 *    commit-only App behind an App with entries, read from the socket together) answers each;
 *    the leader learns from an AppResp only the index the follower matches, so a later ack of
 *    the same term for an index at least as high tells it everything the earlier one did.
 *
 * Leaving such a message out is a message the network could have lost: Raft's safety never
 * depends on delivery, and the later message, sent in the same flush, carries all it said.
 * Nothing else is left out: the later message must be the next of its kind of the same group to
 * the same peer waiting for the same flush, with the same term, and cover it (the same previous
 * index and log term, entries and a commit index at least as high for an App; an index at least
 * as high for an ack). Rejections are always sent.
 */
import { type Message, MessageType } from '../raft/types.ts';

/** Whether `m` may be left out for a later message of its kind; `later` is the next one to its peer. */
function coveredBy(m: Message, later: Message): boolean {
  if (later.term !== m.term) return false;
  if (m.type === MessageType.App) {
    return m.entries.length === 0 && later.entries.length > 0 && later.index === m.index && later.logTerm === m.logTerm && later.commit >= m.commit;
  }
  return !m.reject && !later.reject && later.index >= m.index;
}

/** Whether `m` is of a kind a later message may supersede. */
function candidate(m: Message): boolean {
  return (m.type === MessageType.App && m.entries.length === 0) || (m.type === MessageType.AppResp && !m.reject);
}

/**
 * Indices in [from, to) of `messages` that a later message in that range supersedes, or
 * undefined; `groups[i]` is message i's group (all one group when omitted): a message of one
 * group never stands for another's.
 */
export function supersededIn(messages: readonly Message[], from: number, to: number, groups?: readonly number[]): Set<number> | undefined {
  let any = false;
  for (let i = from; i < to && !any; i++) any = candidate(messages[i]!);
  if (!any) return undefined;
  // Backwards: per group, kind and peer, the nearest message after the position being looked at.
  const next = new Map<number, Map<string, Message>>();
  let drop: Set<number> | undefined;
  for (let i = to - 1; i >= from; i--) {
    const m = messages[i]!;
    if (m.type !== MessageType.App && m.type !== MessageType.AppResp) continue;
    const g = groups ? groups[i]! : 0;
    let byKey = next.get(g);
    if (!byKey) {
      byKey = new Map();
      next.set(g, byKey);
    }
    const key = `${m.type === MessageType.App ? 'a' : 'r'}${m.to}`;
    const later = byKey.get(key);
    if (later !== undefined && candidate(m) && coveredBy(m, later)) {
      drop ??= new Set();
      drop.add(i);
      continue;
    }
    byKey.set(key, m);
  }
  return drop;
}
