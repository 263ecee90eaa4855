import { describe, expect, it } from 'vitest';
import { CompactedError, type MemoryStorage, type Snapshot, SnapshotOutOfDateError, UnavailableError } from '../../src/raft/index.ts';
import { appliedData, brief, dec, electByHand, enc, entriesWithTerms, MessageType, msg, Network, newStorage, soloNode, type TestNode } from './helpers.ts';

/**
 * Raft paper 7: the log is compacted behind a snapshot. A follower whose next entry is gone
 * gets the snapshot instead (InstallSnapshot); reportSnapshot moves its progress on.
 */

const three = ['n1', 'n2', 'n3'];
const conf = { voters: three, learners: [] };

/** Storage holding five entries of term 1, snapshotted and compacted at 5. */
function compactedStorage(): MemoryStorage {
  const s = newStorage(three, { terms: [1, 1, 1, 1, 1], hardState: { term: 1, vote: '', commit: 5 } });
  s.createSnapshot(5, conf, enc('state@5'));
  s.compact(5);
  return s;
}

/** A leader (term 2) over a compacted log whose follower n2 has an empty log and has rejected. */
function leaderNeedingSnapshot(): TestNode {
  const n = soloNode('n1', compactedStorage(), { applied: 5 });
  electByHand(n);
  n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 2, index: 5, reject: true, rejectHint: 0 }));
  return n;
}

const snapOf = (index: number, term: number, data = 'snap'): Snapshot => ({
  meta: { index, term, conf },
  data: enc(data),
});

describe('7 Log compaction', () => {
  it('the leader sends its snapshot to a follower whose next entry was compacted away', () => {
    const n = leaderNeedingSnapshot();
    const out = n.drain();
    expect(brief(out)).toEqual([{ type: MessageType.Snap, from: 'n1', to: 'n2', term: 2 }]);
    expect(out[0].snapshot?.meta).toEqual({ index: 5, term: 1, conf });
    expect(dec(out[0].snapshot?.data ?? new Uint8Array())).toBe('state@5');
    expect(n.status().progress?.n2).toEqual({ match: 0, next: 6, state: 'snapshot' });
  });

  it('nothing else goes to a follower while its snapshot is in flight', () => {
    const n = leaderNeedingSnapshot();
    n.drain();
    n.node.propose(enc('x'));
    n.node.tick();
    const out = n.drain();
    expect(out.filter((m) => m.to === 'n2' && m.type !== MessageType.Heartbeat)).toEqual([]);
  });

  it('reportSnapshot(ok) resumes probing after the snapshot', () => {
    const n = leaderNeedingSnapshot();
    n.drain();
    n.node.reportSnapshot('n2', true);
    expect(n.status().progress?.n2).toEqual({ match: 0, next: 6, state: 'probe' });
    expect(n.drain()).toEqual([]); // paused until the follower is heard from
    n.node.step(msg({ type: MessageType.HeartbeatResp, from: 'n2', to: 'n1', term: 2 }));
    expect(brief(n.drain(), ['index', 'logTerm'])).toEqual([{ type: MessageType.App, from: 'n1', to: 'n2', term: 2, index: 5, logTerm: 1 }]);
  });

  it('reportSnapshot(failed) forgets the snapshot, so the next probe sends it again', () => {
    const n = leaderNeedingSnapshot();
    n.drain();
    n.node.reportSnapshot('n2', false);
    expect(n.status().progress?.n2).toEqual({ match: 0, next: 1, state: 'probe' });
    n.node.step(msg({ type: MessageType.HeartbeatResp, from: 'n2', to: 'n1', term: 2 }));
    expect(brief(n.drain())).toEqual([{ type: MessageType.Snap, from: 'n1', to: 'n2', term: 2 }]);
  });

  it('the follower acknowledging the snapshot index moves the leader to replicate', () => {
    const n = leaderNeedingSnapshot();
    n.drain();
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 2, index: 5 }));
    expect(n.status().progress?.n2.state).toBe('replicate');
    expect(brief(n.drain(), ['index'])).toEqual([{ type: MessageType.App, from: 'n1', to: 'n2', term: 2, index: 5 }]);
  });

  it('a follower installs a newer snapshot: Ready carries it, commit and applied jump to it', () => {
    const n = soloNode('n2', newStorage(three, { terms: [1], hardState: { term: 1, vote: '', commit: 1 } }));
    n.node.step(msg({ type: MessageType.Snap, from: 'n1', to: 'n2', term: 2, snapshot: snapOf(11, 2) }));
    const rd = n.node.ready();
    expect(rd.snapshot?.meta.index).toBe(11);
    expect(rd.committedEntries).toEqual([]);
    expect(brief(rd.messages, ['index', 'reject'])).toEqual([{ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 2, index: 11, reject: false }]);
    n.storage.applySnapshot(rd.snapshot!);
    n.node.advance(rd);
    expect(n.status()).toMatchObject({ commit: 11, applied: 11, lead: 'n1' });
    expect(n.storage.firstIndex()).toBe(12);
    expect(rd.hardState).toEqual({ term: 2, vote: '', commit: 11 });
    expect(n.node.hasReady()).toBe(false);
    // The log continues right after the snapshot.
    n.node.step(msg({ type: MessageType.App, from: 'n1', to: 'n2', term: 2, index: 11, logTerm: 2, commit: 12, entries: entriesWithTerms([2], 12) }));
    n.drain();
    expect(n.applied.map((e) => e.index)).toEqual([1, 12]); // 1 before the snapshot, then 12
  });

  it('a snapshot at or below the commit index is ignored', () => {
    const n = soloNode('n2', newStorage(three, { terms: [1, 1, 1], hardState: { term: 1, vote: '', commit: 3 } }));
    n.node.step(msg({ type: MessageType.Snap, from: 'n1', to: 'n2', term: 1, snapshot: snapOf(2, 1) }));
    const rd = n.node.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(brief(rd.messages, ['index'])).toEqual([{ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 3 }]);
  });

  it('a snapshot of an entry the follower already has only advances its commit index', () => {
    const n = soloNode('n2', newStorage(three, { terms: [1, 1, 1], hardState: { term: 1, vote: '', commit: 1 } }));
    n.node.step(msg({ type: MessageType.Snap, from: 'n1', to: 'n2', term: 1, snapshot: snapOf(2, 1) }));
    const rd = n.node.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([2]); // 1 was applied at start
    expect(n.status().commit).toBe(2);
  });

  it('a member ignores a snapshot whose configuration excludes it', () => {
    const n = soloNode('n3', newStorage(three));
    const withoutN3: Snapshot = { meta: { index: 5, term: 1, conf: { voters: ['n1', 'n2'], learners: [] } }, data: enc('s') };
    n.node.step(msg({ type: MessageType.Snap, from: 'n1', to: 'n3', term: 1, snapshot: withoutN3 }));
    expect(n.node.ready().snapshot).toBeUndefined();
    expect(n.status().commit).toBe(0);
  });

  it('a joining node installs a snapshot older than its own addition (found by the simulator)', () => {
    // n9 knows only the genesis configuration; the leader's latest snapshot (at 5) predates the
    // AddLearner entry that will bring n9 in. Refusing it stranded the joiner forever.
    const n = soloNode('n9', newStorage(three));
    n.node.step(msg({ type: MessageType.Snap, from: 'n1', to: 'n9', term: 1, snapshot: snapOf(5, 1) }));
    expect(n.drain()).toEqual([expect.objectContaining({ type: MessageType.AppResp, to: 'n1', index: 5 })]);
    expect(n.snapshots.map((x) => x.meta.index)).toEqual([5]);
    expect(n.status()).toMatchObject({ commit: 5, conf: conf });
  });

  it('end to end: a follower that fell behind a compaction catches up through the snapshot', () => {
    const net = new Network(three);
    net.campaign('n1');
    net.isolate('n3');
    for (const v of ['a', 'b', 'c']) net.propose('n1', v);
    const leader = net.get('n1');
    const applied = leader.status().applied;
    leader.storage.createSnapshot(applied, leader.status().conf, enc(appliedData(leader).join(',')));
    leader.storage.compact(applied);
    net.heal();
    net.tick('n1');
    net.propose('n1', 'd');
    const n3 = net.get('n3');
    expect(n3.snapshots.map((s) => [s.meta.index, dec(s.data)])).toEqual([[4, 'a,b,c']]);
    expect(appliedData(n3)).toEqual(['d']);
    expect(n3.status()).toMatchObject({ commit: 5, applied: 5 });
    expect(leader.status().progress?.n3).toEqual({ match: 5, next: 6, state: 'replicate' });
  });
});

describe('MemoryStorage', () => {
  it('serves entries and terms between the snapshot and the last index', () => {
    const s = newStorage(three, { terms: [1, 1, 2, 3] });
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 4]);
    expect(s.entries(2, 4, Number.POSITIVE_INFINITY).map((e) => e.index)).toEqual([2, 3]);
    expect(s.entries(1, 5, 0).map((e) => e.index)).toEqual([1]); // at least one
    expect(s.term(0)).toBe(0);
    expect(() => s.term(5)).toThrow(UnavailableError);
    expect(() => s.entries(3, 6, 100)).toThrow(UnavailableError);
  });

  it('compaction keeps the snapshot term and refuses to go backwards', () => {
    const s = newStorage(three, { terms: [1, 1, 2, 3] });
    s.createSnapshot(3, conf, enc('x'));
    s.compact(3);
    expect([s.firstIndex(), s.lastIndex(), s.term(3)]).toEqual([4, 4, 2]);
    expect(() => s.term(2)).toThrow(CompactedError);
    expect(() => s.entries(3, 4, 100)).toThrow(CompactedError);
    expect(() => s.compact(2)).toThrow(CompactedError);
    expect(() => s.createSnapshot(2, conf, enc('old'))).toThrow(SnapshotOutOfDateError);
  });

  it('append replaces a conflicting suffix and ignores compacted entries', () => {
    const s = newStorage(three, { terms: [1, 1, 1] });
    s.append(entriesWithTerms([2, 2], 2));
    expect([1, 2, 3].map((i) => s.term(i))).toEqual([1, 2, 2]);
    s.createSnapshot(2, conf, enc(''));
    s.compact(2);
    s.append(entriesWithTerms([1, 2, 2, 4], 1));
    expect(s.lastIndex()).toBe(4);
    expect(s.term(4)).toBe(4);
    expect(() => s.append(entriesWithTerms([5], 9))).toThrow(UnavailableError);
  });

  it('applySnapshot replaces the log and the configuration', () => {
    const s = newStorage(three, { terms: [1, 1] });
    s.applySnapshot({ meta: { index: 10, term: 3, conf: { voters: ['n1'], learners: ['n2'] } }, data: enc('s') });
    expect([s.firstIndex(), s.lastIndex(), s.term(10)]).toEqual([11, 10, 3]);
    expect(s.initialState().confState).toEqual({ voters: ['n1'], learners: ['n2'] });
    expect(() => s.applySnapshot(snapOf(9, 3))).toThrow(SnapshotOutOfDateError);
  });
});
