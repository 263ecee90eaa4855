import { describe, expect, it } from 'vitest';
import { appliedData, brief, MessageType, msg, Network, newStorage, soloNode } from './helpers.ts';

/** Raft paper 5.4.1: a vote goes only to a candidate whose log is at least as up to date. */

const three = ['n1', 'n2', 'n3'];

describe('5.4.1 Election restriction', () => {
  for (const terms of [[1], [1, 2], [1, 1, 3]]) {
    it(`vote requests carry the candidate's last index and term (log ${JSON.stringify(terms)})`, () => {
      const last = terms.length;
      const n = soloNode('n1', newStorage(three, { terms, hardState: { term: terms[last - 1], vote: '', commit: 0 } }));
      n.node.campaign();
      expect(brief(n.drain(), ['index', 'logTerm'])).toEqual(
        ['n2', 'n3'].map((to) => ({
          type: MessageType.Vote,
          from: 'n1',
          to,
          term: terms[last - 1] + 1,
          index: last,
          logTerm: terms[last - 1],
        })),
      );
    });
  }

  // The voter's log, then the candidate's (last index, last term), then the verdict.
  const cases: { voter: number[]; index: number; logTerm: number; grant: boolean; why: string }[] = [
    { voter: [1], index: 1, logTerm: 1, grant: true, why: 'same last term, same length' },
    { voter: [1], index: 2, logTerm: 1, grant: true, why: 'same last term, candidate longer' },
    { voter: [1, 1], index: 1, logTerm: 1, grant: false, why: 'same last term, candidate shorter' },
    { voter: [1], index: 1, logTerm: 2, grant: true, why: 'candidate has the higher last term' },
    { voter: [1, 1], index: 1, logTerm: 2, grant: true, why: 'higher last term beats a longer log' },
    { voter: [2], index: 1, logTerm: 1, grant: false, why: 'voter has the higher last term' },
    { voter: [2], index: 5, logTerm: 1, grant: false, why: 'a longer log does not beat a higher term' },
    { voter: [1, 2], index: 2, logTerm: 1, grant: false, why: 'voter last term 2 vs candidate 1' },
  ];
  for (const c of cases) {
    it(`voter ${JSON.stringify(c.voter)} vs candidate (${c.index}, term ${c.logTerm}): ${c.grant ? 'grant' : 'reject'} (${c.why})`, () => {
      const n = soloNode('n1', newStorage(three, { terms: c.voter, hardState: { term: 2, vote: '', commit: 0 } }));
      n.node.step(msg({ type: MessageType.Vote, from: 'n2', to: 'n1', term: 3, index: c.index, logTerm: c.logTerm }));
      expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.VoteResp, from: 'n1', to: 'n2', term: 3, reject: !c.grant }]);
      expect(n.status()).toMatchObject({ term: 3, vote: c.grant ? 'n2' : '' });
    });
  }

  it('an empty replica that knows no configuration grants no vote (an earlier member back without its disk)', () => {
    // The candidate's stale configuration counts n1 as a voter; n1 came back empty under the
    // same id, so granting would let a candidate without a committed entry win.
    const n = soloNode('n1', newStorage([]));
    for (const type of [MessageType.PreVote, MessageType.Vote]) {
      n.node.step(msg({ type, from: 'n2', to: 'n1', term: 3, index: 0, logTerm: 0 }));
      expect(brief(n.drain(), ['reject'])).toMatchObject([{ to: 'n2', reject: true }]);
    }
    expect(n.status().vote).toBe('');
    // Once the leader's snapshot (or entries) reach it, it votes by the usual rule.
    n.node.step(
      msg({
        type: MessageType.Snap,
        from: 'n3',
        to: 'n1',
        term: 3,
        snapshot: { meta: { index: 5, term: 2, conf: { voters: three, learners: [] } }, data: new Uint8Array(0) },
      }),
    );
    n.drain();
    n.node.step(msg({ type: MessageType.Vote, from: 'n2', to: 'n1', term: 4, index: 5, logTerm: 2 }));
    expect(brief(n.drain(), ['reject'])).toMatchObject([{ to: 'n2', reject: false }]);
  });

  it('a node missing a committed entry cannot become leader (leader completeness)', () => {
    const net = new Network(three);
    net.campaign('n1');
    net.isolate('n3');
    net.propose('n1', 'x');
    expect(net.get('n1').status().commit).toBe(2);

    net.heal();
    net.isolate('n1');
    net.campaign('n3'); // n2 holds index 2 and refuses
    expect(net.get('n3').status().role).not.toBe('leader');
    net.elect('n2');
    net.propose('n2', 'y');
    expect(appliedData(net.get('n3'))).toEqual(['x', 'y']);
  });
});
