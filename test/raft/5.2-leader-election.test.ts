import { describe, expect, it } from 'vitest';
import { brief, electByHand, MessageType, msg, Network, newStorage, soloNode } from './helpers.ts';

/** Raft paper 5.2: election timeouts, RequestVote, one vote per term, randomized timeouts. */

const three = ['n1', 'n2', 'n3'];

describe('5.2 Leader election', () => {
  it('a follower that hears nothing for an election timeout becomes candidate and asks everyone', () => {
    const n = soloNode('n1', newStorage(three, { terms: [1, 1], hardState: { term: 1, vote: '', commit: 2 } }));
    for (let i = 0; i < 9; i++) n.node.tick();
    expect(n.status().role).toBe('follower');
    n.node.tick();
    expect(n.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'n1' });
    expect(brief(n.drain(), ['index', 'logTerm'])).toEqual([
      { type: MessageType.Vote, from: 'n1', to: 'n2', term: 2, index: 2, logTerm: 1 },
      { type: MessageType.Vote, from: 'n1', to: 'n3', term: 2, index: 2, logTerm: 1 },
    ]);
  });

  it('a candidate whose election times out starts a new one in the next term', () => {
    const n = soloNode('n1', newStorage(three));
    n.node.campaign();
    n.drain();
    for (let i = 0; i < 10; i++) n.node.tick();
    expect(n.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'n1' });
    expect(brief(n.drain())).toEqual([
      { type: MessageType.Vote, from: 'n1', to: 'n2', term: 2 },
      { type: MessageType.Vote, from: 'n1', to: 'n3', term: 2 },
    ]);
  });

  // The outcome of one round of RequestVote given the answers received (own vote included).
  const oneRound: { size: number; votes: Record<string, boolean>; role: string }[] = [
    { size: 1, votes: {}, role: 'leader' },
    { size: 3, votes: { n2: true, n3: true }, role: 'leader' },
    { size: 3, votes: { n2: true }, role: 'leader' },
    { size: 5, votes: { n2: true, n3: true, n4: true, n5: true }, role: 'leader' },
    { size: 5, votes: { n2: true, n3: true, n4: true }, role: 'leader' },
    { size: 5, votes: { n2: true, n3: true }, role: 'leader' },
    { size: 3, votes: { n2: false, n3: false }, role: 'follower' },
    { size: 5, votes: { n2: false, n3: false, n4: false, n5: false }, role: 'follower' },
    { size: 5, votes: { n2: true, n3: false, n4: false, n5: false }, role: 'follower' },
    { size: 3, votes: {}, role: 'candidate' },
    { size: 5, votes: { n2: true }, role: 'candidate' },
    { size: 5, votes: { n2: false, n3: false }, role: 'candidate' },
    { size: 5, votes: { n2: true, n3: false, n4: false }, role: 'candidate' },
  ];
  for (const { size, votes, role } of oneRound) {
    it(`election in one round: ${size} voters, answers ${JSON.stringify(votes)} -> ${role}`, () => {
      const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
      const n = soloNode('n1', newStorage(ids));
      n.node.campaign();
      for (const [from, granted] of Object.entries(votes)) {
        n.node.step(msg({ type: MessageType.VoteResp, from, to: 'n1', term: 1, reject: !granted }));
      }
      expect(n.status()).toMatchObject({ role, term: 1 });
    });
  }

  it('a follower votes for at most one candidate per term, first come first served', () => {
    for (const [vote, from, granted] of [
      ['', 'n2', true],
      ['', 'n3', true],
      ['n2', 'n2', true],
      ['n3', 'n3', true],
      ['n2', 'n3', false],
      ['n3', 'n2', false],
    ] as const) {
      const n = soloNode('n1', newStorage(three, { hardState: { term: 1, vote, commit: 0 } }));
      n.node.step(msg({ type: MessageType.Vote, from, to: 'n1', term: 1 }));
      expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.VoteResp, from: 'n1', to: from, term: 1, reject: !granted }]);
      expect(n.status().vote).toBe(granted ? from : vote);
    }
  });

  it('the vote is part of the hard state handed out before the response leaves', () => {
    const n = soloNode('n1', newStorage(three));
    n.node.step(msg({ type: MessageType.Vote, from: 'n2', to: 'n1', term: 4 }));
    const rd = n.node.ready();
    expect(rd.hardState).toEqual({ term: 4, vote: 'n2', commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(brief(rd.messages, ['reject'])).toEqual([{ type: MessageType.VoteResp, from: 'n1', to: 'n2', term: 4, reject: false }]);
  });

  for (const term of [1, 2]) {
    it(`a candidate that hears from a leader of term >= its own (${term}) steps down`, () => {
      const n = soloNode('n1', newStorage(three));
      n.node.campaign();
      expect(n.status()).toMatchObject({ role: 'candidate', term: 1 });
      n.node.step(msg({ type: MessageType.App, from: 'n2', to: 'n1', term }));
      expect(n.status()).toMatchObject({ role: 'follower', term, lead: 'n2' });
    });
  }

  it('a leader sends its no-op to every follower right after winning', () => {
    const n = soloNode('n1', newStorage(three));
    const msgs = electByHand(n);
    expect(n.status()).toMatchObject({ role: 'leader', lead: 'n1', term: 1 });
    expect(brief(msgs, ['index', 'logTerm', 'commit'])).toEqual([
      { type: MessageType.App, from: 'n1', to: 'n2', term: 1, index: 0, logTerm: 0, commit: 0 },
      { type: MessageType.App, from: 'n1', to: 'n3', term: 1, index: 0, logTerm: 0, commit: 0 },
    ]);
    expect(msgs[0].entries).toMatchObject([{ index: 1, term: 1, type: 0, data: new Uint8Array() }]);
  });

  it('election timeouts are randomized in [electionTick, 2*electionTick)', () => {
    const seen = new Set<number>();
    for (let k = 0; k < 20; k++) {
      const r = k / 20;
      const n = soloNode('n1', newStorage(three), { random: () => r });
      let ticks = 0;
      while (n.status().role === 'follower') {
        n.node.tick();
        ticks++;
      }
      expect(ticks).toBe(10 + Math.floor(r * 10));
      seen.add(ticks);
    }
    expect(Math.min(...seen)).toBe(10);
    expect(Math.max(...seen)).toBe(19);
  });

  it('a randomized timeout lets one node win before the others time out', () => {
    const fresh = new Network(three, {
      perNode: { n1: { random: () => 0 }, n2: { random: () => 0.5 }, n3: { random: () => 0.9 } },
    });
    for (let t = 0; t < 10; t++) for (const id of three) fresh.tick(id);
    expect(fresh.leaders()).toEqual(['n1']);
    expect(fresh.get('n2').status()).toMatchObject({ role: 'follower', lead: 'n1', term: 1 });
    expect(fresh.get('n3').status()).toMatchObject({ role: 'follower', lead: 'n1', term: 1 });
  });

  it('a split vote ends with a new election in a later term', () => {
    const net = new Network(['n1', 'n2', 'n3', 'n4']);
    // n1 and n2 campaign at once; n3 votes for n1 and n4 for n2: nobody has 3 of 4.
    net.cut('n1', 'n4');
    net.cut('n2', 'n3');
    net.get('n1').node.campaign();
    net.get('n2').node.campaign();
    net.stabilize();
    expect(net.leaders()).toEqual([]);
    net.heal();
    net.campaign('n1');
    expect(net.leaders()).toEqual(['n1']);
    expect(net.get('n1').status().term).toBe(2);
  });
});
