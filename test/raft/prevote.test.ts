import { describe, expect, it } from 'vitest';
import { brief, MessageType, msg, Network, newStorage, soloNode } from './helpers.ts';

/**
 * Dissertation 9.6: a pre-election asks "would you vote for me?" without raising anyone's
 * term, so a node that was cut off cannot disrupt the cluster when it comes back.
 */

const three = ['n1', 'n2', 'n3'];

describe('PreVote', () => {
  it('a pre-candidate keeps its term and vote and asks with term + 1', () => {
    const n = soloNode('n1', newStorage(three, { terms: [1], hardState: { term: 1, vote: 'n2', commit: 1 } }), {
      preVote: true,
    });
    n.node.campaign();
    expect(n.status()).toMatchObject({ role: 'pre-candidate', term: 1, vote: 'n2', lead: '' });
    const rd = n.node.ready();
    expect(rd.hardState).toBeUndefined(); // nothing to persist
    expect(brief(rd.messages, ['index', 'logTerm'])).toEqual([
      { type: MessageType.PreVote, from: 'n1', to: 'n2', term: 2, index: 1, logTerm: 1 },
      { type: MessageType.PreVote, from: 'n1', to: 'n3', term: 2, index: 1, logTerm: 1 },
    ]);
  });

  it('a voter grants a pre-vote without changing its term or vote, even after voting', () => {
    const n = soloNode('n2', newStorage(three, { hardState: { term: 1, vote: 'n3', commit: 0 } }), { preVote: true });
    n.node.step(msg({ type: MessageType.PreVote, from: 'n1', to: 'n2', term: 2 }));
    expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.PreVoteResp, from: 'n2', to: 'n1', term: 2, reject: false }]);
    expect(n.status()).toMatchObject({ term: 1, vote: 'n3' });
  });

  it('a voter rejects a pre-vote from a candidate whose log is behind, with its own term', () => {
    const n = soloNode('n2', newStorage(three, { terms: [1, 1], hardState: { term: 1, vote: '', commit: 0 } }), {
      preVote: true,
    });
    n.node.step(msg({ type: MessageType.PreVote, from: 'n1', to: 'n2', term: 2, index: 1, logTerm: 1 }));
    expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.PreVoteResp, from: 'n2', to: 'n1', term: 1, reject: true }]);
  });

  it('a quorum of pre-votes starts the real election', () => {
    const n = soloNode('n1', newStorage(three), { preVote: true });
    n.node.campaign();
    n.drain();
    n.node.step(msg({ type: MessageType.PreVoteResp, from: 'n2', to: 'n1', term: 1 }));
    expect(n.status()).toMatchObject({ role: 'candidate', term: 1, vote: 'n1' });
    expect(brief(n.drain())).toEqual([
      { type: MessageType.Vote, from: 'n1', to: 'n2', term: 1 },
      { type: MessageType.Vote, from: 'n1', to: 'n3', term: 1 },
    ]);
  });

  it('a pre-candidate rejected by a quorum returns to follower in the same term', () => {
    const n = soloNode('n1', newStorage(['n1', 'n2', 'n3', 'n4', 'n5'], { hardState: { term: 3, vote: '', commit: 0 } }), {
      preVote: true,
    });
    n.node.campaign();
    n.node.step(msg({ type: MessageType.PreVoteResp, from: 'n2', to: 'n1', term: 3, reject: true }));
    n.node.step(msg({ type: MessageType.PreVoteResp, from: 'n3', to: 'n1', term: 3, reject: true }));
    expect(n.status().role).toBe('pre-candidate');
    n.node.step(msg({ type: MessageType.PreVoteResp, from: 'n4', to: 'n1', term: 3, reject: true }));
    expect(n.status()).toMatchObject({ role: 'follower', term: 3 });
  });

  it('a rejection carrying a higher term makes the pre-candidate a follower of that term', () => {
    const n = soloNode('n1', newStorage(three), { preVote: true });
    n.node.campaign();
    n.node.step(msg({ type: MessageType.PreVoteResp, from: 'n2', to: 'n1', term: 5, reject: true }));
    expect(n.status()).toMatchObject({ role: 'follower', term: 5 });
  });

  it('a node cut off from the cluster does not inflate its term or disrupt the leader', () => {
    const net = new Network(three, { preVote: true });
    net.campaign('n1');
    net.isolate('n3');
    for (let i = 0; i < 100; i++) net.tick('n3');
    expect(net.get('n3').status()).toMatchObject({ role: 'pre-candidate', term: 1 });
    net.heal();
    net.tick('n1'); // heartbeat
    expect(net.get('n3').status()).toMatchObject({ role: 'follower', term: 1, lead: 'n1' });
    expect(net.leaders()).toEqual(['n1']);
  });

  it('without PreVote the same partition forces a new election when it heals', () => {
    const net = new Network(three);
    net.campaign('n1');
    net.isolate('n3');
    for (let i = 0; i < 30; i++) net.tick('n3');
    expect(net.get('n3').status().term).toBeGreaterThan(1);
    net.heal();
    // n3's next election carries its inflated term and deposes the healthy leader.
    for (let i = 0; i < 20; i++) net.tick('n3');
    expect(net.get('n1').status().term).toBeGreaterThan(1);
    expect(net.leaders()).not.toEqual(['n1']);
  });
});
