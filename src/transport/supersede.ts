/**
 * Messages that a later message of the same send makes redundant (issue 13): left out before
 * they cost a round. With many small groups per node, each group's rounds are a large part of a
 * SET's cost (docs/performance.md, "Shards"), and under load about half of the commit-only Apps
 * and acks a node sends are followed, in the same Ready, by one that says as much and more:
 *
 *  - A commit-only App. When a leader's commit index moves (a follower's AppResp, or its own
 *    append made durable) the core tells every follower at once (etcd's bcastAppend after
 *    maybeCommit); to a follower that has every entry, that App is empty. The proposals of the
 *    same turn then make the core send that follower an App with entries, from the same previous
 *    index, with at least that commit index. The follower would handle the empty one (a step, a
 *    Ready, a hard-state write) and answer it for nothing.
 *  - An ack. A follower that steps several Apps of a group before its Ready (a commit-only App
 *    behind an App with entries, read from the socket together) answers each; the leader learns
 *    from an AppResp only the index the follower matches, so a later ack of the same term for an
 *    index at least as high tells it everything the earlier one did.
 *
 * Leaving such a message out is a message the network could have lost: Raft's safety never
 * depends on delivery, and the later message carries all it said. Nothing else is left out: the
 * later message must be the next of its kind to the same peer in the same send, with the same
 * term, and cover it (the same previous index and log term, entries and a commit index at least
 * as high for an App; an index at least as high for an ack). Rejections are always sent.
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

/** `messages` without those a later message of the list supersedes (the same array when none is). */
export function withoutSuperseded(messages: Message[]): Message[] {
  let candidates = 0;
  for (const m of messages) if (candidate(m)) candidates++;
  if (candidates === 0) return messages;
  // Backwards: per kind and peer, the nearest message after the position being looked at.
  const next = { [MessageType.App]: new Map<string, Message>(), [MessageType.AppResp]: new Map<string, Message>() };
  let drop: Set<number> | undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.type !== MessageType.App && m.type !== MessageType.AppResp) continue;
    const byPeer = next[m.type];
    const later = byPeer.get(m.to);
    if (later !== undefined && candidate(m) && coveredBy(m, later)) {
      drop ??= new Set();
      drop.add(i);
      continue;
    }
    byPeer.set(m.to, m);
  }
  return drop ? messages.filter((_, i) => !drop.has(i)) : messages;
}
