/** Small pure helpers for leadership changes, kept out of the runtime's Ready loop. */
import { NONE } from '../raft/types.ts';
import type { Entry } from '../raft/types.ts';
import { ConfChangeType, EntryType } from '../raft/types.ts';
import { encodeConfChange } from '../raft/index.ts';
import { type Member, encodeMember } from './members.ts';

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
