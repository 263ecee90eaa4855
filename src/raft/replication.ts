import { entriesSize } from './entry-size.ts';
import type { Progress } from './progress.ts';
import type { Raft } from './raft.ts';
import { encodeRound } from './read-index.ts';
import {
  CompactedError,
  EntriesNotLoadedError,
  type Entry,
  MessageType,
  type NodeId,
  ProgressState,
  RaftInvariantError,
  SnapshotTemporarilyUnavailableError,
} from './types.ts';

/** The leader's outgoing traffic: App (or Snap when the entries are compacted), Heartbeat, TimeoutNow. */

export function sendAppend(r: Raft, to: NodeId): void {
  maybeSendAppend(r, to, true);
}

/**
 * Sends the next App to `to` unless its progress is paused (a probe outstanding, the inflight
 * window full, or a snapshot in flight). With `sendIfEmpty` false an App without entries is
 * not worth sending. Returns whether a message went out.
 */
export function maybeSendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.trk.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  let prevTerm: number;
  let entries: Entry[];
  try {
    prevTerm = r.log.term(prevIndex);
    // With a full window (reachable only via a heartbeat response, which unpauses) send an
    // empty App: it recovers a follower whose whole window was lost, without overfilling it.
    const windowFull = pr.state === ProgressState.Replicate && pr.inflights.full();
    entries = windowFull ? [] : r.log.entries(pr.next, r.maxMsgSize);
  } catch (e) {
    if (e instanceof CompactedError) return maybeSendSnapshot(r, to, pr);
    // Being read from disk: the follower's next heartbeat response asks again.
    if (e instanceof EntriesNotLoadedError) return false;
    throw e;
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed });
  pr.sentEntries(entries.length, entriesSize(entries));
  return true;
}

/** The entries `to` needs are compacted away: send the latest snapshot instead (section 7). */
function maybeSendSnapshot(r: Raft, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) {
    // Do not ship a possibly large snapshot to a node we have not heard from.
    r.logger('debug', `${r.id} holds back a snapshot for inactive ${to}`);
    return false;
  }
  let snap: ReturnType<Raft['log']['snapshot']>;
  try {
    snap = r.log.snapshot();
  } catch (e) {
    if (e instanceof SnapshotTemporarilyUnavailableError) return false;
    throw e;
  }
  if (snap.meta.index === 0) throw new RaftInvariantError('entries are compacted but there is no snapshot');
  pr.becomeSnapshot(snap.meta.index);
  r.send({ type: MessageType.Snap, to, snapshot: snap });
  r.logger('info', `${r.id} sends snapshot at ${snap.meta.index} to ${to}`);
  return true;
}

export function bcastAppend(r: Raft): void {
  for (const id of r.trk.progress.keys()) if (id !== r.id) sendAppend(r, id);
}

/** Heartbeats carry the read-confirmation round, if any reads wait for one. */
export function bcastHeartbeat(r: Raft, round: number | undefined): void {
  for (const id of r.trk.progress.keys()) if (id !== r.id) sendHeartbeat(r, id, round);
}

/** A read round's heartbeats, to the followers ReadIndexQueue.askFor names. */
export function sendReadRound(r: Raft, round: number): void {
  for (const id of r.reads.askFor(r.trk.voters, r.id, round)) sendHeartbeat(r, id, round);
}

function sendHeartbeat(r: Raft, to: NodeId, round: number | undefined): void {
  const pr = r.trk.progress.get(to);
  if (pr === undefined) return;
  // Never tell a follower a commit index beyond what it is known to hold.
  const commit = Math.min(pr.match, r.log.committed);
  r.send({ type: MessageType.Heartbeat, to, commit, ...(round === undefined ? {} : { context: encodeRound(round) }) });
}

export function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.leaseRevoked = true;
  r.send({ type: MessageType.TimeoutNow, to });
}
