import { describe, expect, it } from 'vitest';
import { RaftInvariantError } from '../../src/raft/index.ts';
import { RaftLog } from '../../src/raft/log.ts';
import { appliedData, brief, electByHand, enc, entriesWithTerms, MessageType, msg, Network, newStorage, soloNode, type TestNode } from './helpers.ts';

/** Raft paper 5.3: AppendEntries, the consistency check, commitment and log repair. */

const three = ['n1', 'n2', 'n3'];

/** A leader of term 1 whose no-op (index 1) is committed and known to both followers. */
function steadyLeader(ids = three): TestNode {
  const n = soloNode('n1', newStorage(ids));
  electByHand(n);
  for (const id of ids.slice(1)) n.node.step(msg({ type: MessageType.AppResp, from: id, to: 'n1', term: 1, index: 1 }));
  n.drain();
  expect(n.status().commit).toBe(1);
  return n;
}

describe('5.3 Log replication', () => {
  it('the leader appends a proposal and sends it to every follower after the matching entry', () => {
    const n = steadyLeader();
    expect(n.node.propose(enc('x'))).toEqual({ index: 2, term: 1 });
    const out = n.drain();
    expect(brief(out, ['index', 'logTerm', 'commit'])).toEqual([
      { type: MessageType.App, from: 'n1', to: 'n2', term: 1, index: 1, logTerm: 1, commit: 1 },
      { type: MessageType.App, from: 'n1', to: 'n3', term: 1, index: 1, logTerm: 1, commit: 1 },
    ]);
    expect(out[0].entries).toEqual([{ index: 2, term: 1, type: 0, data: enc('x') }]);
    expect(n.storage.lastIndex()).toBe(2);
  });

  it('a batch of proposals is appended in order and leaves as one App per follower', () => {
    const n = steadyLeader();
    expect(n.node.proposeBatch([enc('a'), enc('b'), enc('c')])).toEqual({ index: 4, term: 1 });
    const out = n.drain();
    expect(brief(out, ['index', 'logTerm'])).toEqual([
      { type: MessageType.App, from: 'n1', to: 'n2', term: 1, index: 1, logTerm: 1 },
      { type: MessageType.App, from: 'n1', to: 'n3', term: 1, index: 1, logTerm: 1 },
    ]);
    expect(out[0].entries.map((e) => [e.index, e.term])).toEqual([
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
    for (const from of ['n2', 'n3']) n.node.step(msg({ type: MessageType.AppResp, from, to: 'n1', term: 1, index: 4 }));
    n.drain();
    expect(appliedData(n)).toEqual(['a', 'b', 'c']);
  });

  it('the leader counts itself only once its own append is durable (advance)', () => {
    const n = steadyLeader();
    n.node.propose(enc('x'));
    const rd = n.node.ready();
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 2 }));
    expect(n.status().commit).toBe(1); // n2 alone is not a majority of three
    n.storage.append(rd.entries);
    n.node.advance(rd);
    expect(n.status().commit).toBe(2);
    // The new commit index reaches the followers at once.
    expect(brief(n.drain(), ['index', 'commit'])).toEqual([
      { type: MessageType.App, from: 'n1', to: 'n2', term: 1, index: 2, commit: 2 },
      { type: MessageType.App, from: 'n1', to: 'n3', term: 1, index: 2, commit: 2 },
    ]);
    expect(appliedData(n)).toEqual(['x']);
  });

  const acks: { size: number; acked: string[]; committed: boolean }[] = [
    { size: 1, acked: [], committed: true },
    { size: 3, acked: [], committed: false },
    { size: 3, acked: ['n2'], committed: true },
    { size: 3, acked: ['n2', 'n3'], committed: true },
    { size: 5, acked: ['n2'], committed: false },
    { size: 5, acked: ['n2', 'n3'], committed: true },
    { size: 5, acked: ['n2', 'n3', 'n4', 'n5'], committed: true },
  ];
  for (const { size, acked, committed } of acks) {
    it(`an entry commits once a majority stores it: ${size} voters, acks from [${acked}] -> ${committed}`, () => {
      const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
      const n = steadyLeader(ids);
      const { index } = n.node.propose(enc('x'));
      n.drain();
      for (const from of acked) n.node.step(msg({ type: MessageType.AppResp, from, to: 'n1', term: 1, index }));
      n.drain();
      expect(n.status().commit).toBe(committed ? index : 1);
    });
  }

  it('committing an entry of the current term commits every entry before it', () => {
    const storage = newStorage(three, { terms: [1, 1, 2], hardState: { term: 2, vote: '', commit: 0 } });
    const n = soloNode('n1', storage);
    electByHand(n); // term 3, no-op at index 4
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 3, index: 4 }));
    n.drain();
    expect(n.status().commit).toBe(4);
    expect(n.applied.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 3],
    ]);
  });

  it('a follower commits up to the leader commit, but never past what it has verified', () => {
    const n = soloNode('n2', newStorage(three));
    n.node.step(msg({ type: MessageType.App, from: 'n1', to: 'n2', term: 1, index: 0, logTerm: 0, commit: 5, entries: entriesWithTerms([1, 1]) }));
    const out = n.drain();
    expect(n.status().commit).toBe(2);
    expect(n.applied.map((e) => e.index)).toEqual([1, 2]);
    expect(brief(out, ['index', 'reject'])).toEqual([{ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 2, reject: false }]);
  });

  // Follower log: terms [1, 2] at indexes 1, 2.
  const checks: { index: number; logTerm: number; reject: boolean; hint?: number; hintTerm?: number }[] = [
    { index: 0, logTerm: 0, reject: false },
    { index: 1, logTerm: 1, reject: false },
    { index: 2, logTerm: 2, reject: false },
    { index: 1, logTerm: 2, reject: true, hint: 1, hintTerm: 1 }, // term mismatch at 1
    { index: 3, logTerm: 3, reject: true, hint: 2, hintTerm: 2 }, // no entry at 3
    { index: 2, logTerm: 3, reject: true, hint: 2, hintTerm: 2 },
    { index: 2, logTerm: 1, reject: true, hint: 1, hintTerm: 1 },
  ];
  for (const c of checks) {
    it(`the consistency check: prev (${c.index}, term ${c.logTerm}) -> ${c.reject ? 'reject' : 'accept'}`, () => {
      const n = soloNode('n2', newStorage(three, { terms: [1, 2], hardState: { term: 2, vote: '', commit: 0 } }));
      n.node.step(msg({ type: MessageType.App, from: 'n1', to: 'n2', term: 2, index: c.index, logTerm: c.logTerm }));
      const [resp] = n.drain();
      expect(resp).toMatchObject({ type: MessageType.AppResp, term: 2, reject: c.reject });
      if (c.reject) expect(resp).toMatchObject({ index: c.index, rejectHint: c.hint, logTerm: c.hintTerm });
      else expect(resp.index).toBe(c.index);
    });
  }

  const appends: { index: number; logTerm: number; ents: number[]; want: number[] }[] = [
    { index: 2, logTerm: 2, ents: [3], want: [1, 2, 3] },
    { index: 1, logTerm: 1, ents: [3, 4], want: [1, 3, 4] }, // conflict at 2: replaced
    { index: 0, logTerm: 0, ents: [1], want: [1, 2] }, // already have it: keep the rest
    { index: 0, logTerm: 0, ents: [3], want: [3] },
  ];
  for (const a of appends) {
    it(`a follower deletes conflicting entries and appends new ones: ${JSON.stringify(a.ents)} after ${a.index}`, () => {
      const n = soloNode('n2', newStorage(three, { terms: [1, 2], hardState: { term: 2, vote: '', commit: 0 } }));
      n.node.step(
        msg({
          type: MessageType.App,
          from: 'n1',
          to: 'n2',
          term: 2,
          index: a.index,
          logTerm: a.logTerm,
          entries: entriesWithTerms(a.ents, a.index + 1),
        }),
      );
      n.drain();
      expect(n.logTerms()).toEqual(a.want);
    });
  }

  it('a follower refuses to truncate a committed entry', () => {
    // Unreachable through step (an App below the commit index is answered early), so the log
    // itself guards the invariant.
    const log = new RaftLog(newStorage(three, { terms: [1, 1] }), Number.POSITIVE_INFINITY);
    log.commitTo(2);
    expect(() => log.maybeAppend(1, 1, 2, entriesWithTerms([2], 2))).toThrow(RaftInvariantError);
    expect(() => log.append(entriesWithTerms([2], 2))).toThrow(RaftInvariantError);
  });

  it('an App below the follower commit index is answered with the commit index', () => {
    const n = soloNode('n2', newStorage(three, { terms: [1, 1, 1], hardState: { term: 1, vote: '', commit: 3 } }));
    n.node.step(msg({ type: MessageType.App, from: 'n1', to: 'n2', term: 1, index: 1, logTerm: 1, entries: entriesWithTerms([1], 2) }));
    expect(brief(n.drain(), ['index', 'reject'])).toEqual([{ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 3, reject: false }]);
  });

  // Figure 7: a new leader of term 8 and the possible follower logs a-f.
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  for (const [name, log] of Object.entries(followers)) {
    it(`figure 7 (${name}): the leader brings the follower's log in line with its own`, () => {
      const net = new Network(three, {
        storages: {
          n1: newStorage(three, { terms: leaderLog, hardState: { term: 8, vote: '', commit: 3 } }),
          n2: newStorage(three, { terms: log, hardState: { term: 7, vote: '', commit: 3 } }),
        },
      });
      net.isolate('n3');
      net.get('n1').node.campaign();
      // n3 (cut off) grants its vote by hand, as in the figure's premise.
      net.get('n1').node.step(msg({ type: MessageType.VoteResp, from: 'n3', to: 'n1', term: 9 }));
      net.stabilize();
      expect(net.leaders()).toEqual(['n1']);
      net.propose('n1', 'x');
      const want = [...leaderLog, 9, 9];
      expect(net.get('n1').logTerms()).toEqual(want);
      expect(net.get('n2').logTerms()).toEqual(want);
      expect(net.get('n2').status().commit).toBe(12);
      // Fast backtracking: at most one rejected probe per differing term run.
      const rejects = net.trace.filter((m) => m.type === MessageType.AppResp && m.reject).length;
      expect(rejects).toBeLessThanOrEqual(2);
    });
  }

  it('fast backtracking skips a whole conflicting term in one round trip (figure 7 f)', () => {
    const net = new Network(three, {
      storages: {
        n1: newStorage(three, { terms: leaderLog, hardState: { term: 8, vote: '', commit: 3 } }),
        n2: newStorage(three, { terms: followers.f, hardState: { term: 7, vote: '', commit: 3 } }),
      },
    });
    net.isolate('n3');
    net.get('n1').node.campaign();
    net.get('n1').node.step(msg({ type: MessageType.VoteResp, from: 'n3', to: 'n1', term: 9 }));
    net.stabilize();
    const toN2 = net.trace.filter((m) => m.from === 'n1' && m.to === 'n2' && m.type === MessageType.App);
    const fromN2 = net.trace.filter((m) => m.from === 'n2' && m.type === MessageType.AppResp);
    // Probe after 10 (term 6) is rejected with hint (10, term 3); the leader's last entry of
    // term <= 3 is index 3, so the second probe already matches.
    expect(brief(fromN2, ['index', 'reject', 'rejectHint', 'logTerm'])[0]).toEqual({
      type: MessageType.AppResp,
      from: 'n2',
      to: 'n1',
      term: 9,
      index: 10,
      reject: true,
      rejectHint: 10,
      logTerm: 3,
    });
    // Then entries 4-11 go in one App, and the commit index follows in an empty one.
    expect(toN2.map((m) => [m.index, m.logTerm, m.entries.length])).toEqual([
      [10, 6, 1],
      [3, 1, 8],
      [11, 9, 0],
    ]);
    expect(net.get('n2').logTerms()).toEqual([...leaderLog, 9]);
  });
});
