import { describe, expect, it } from 'vitest';
import { TRANSFER_CONTEXT } from '../../src/raft/election.ts';
import { brief, electByHand, MessageType, msg, Network, newStorage, soloNode } from './helpers.ts';

/**
 * Dissertation 6.2 / 9.6: a leader that has not heard from a quorum within an election timeout
 * steps down, and a follower that has heard from a leader within that time ignores candidates
 * (leader stickiness), unless the election was started by a leadership transfer.
 */

const three = ['n1', 'n2', 'n3'];

describe('CheckQuorum', () => {
  it('a leader cut off from the quorum steps down after a whole election timeout of silence', () => {
    const net = new Network(three, { checkQuorum: true });
    net.campaign('n1');
    net.isolate('n1');
    // The followers answered the no-op in the first window, so the first check passes.
    for (let i = 0; i < 19; i++) net.tick('n1');
    expect(net.get('n1').status().role).toBe('leader');
    net.tick('n1');
    expect(net.get('n1').status()).toMatchObject({ role: 'follower', term: 1, lead: '' });
  });

  it('a leader that hears from a quorum keeps leading', () => {
    const net = new Network(three, { checkQuorum: true });
    net.campaign('n1');
    net.isolate('n3');
    for (let i = 0; i < 50; i++) net.tick('n1');
    expect(net.get('n1').status()).toMatchObject({ role: 'leader', term: 1 });
  });

  it('the check needs fresh contact each timeout: old activity does not count twice', () => {
    const n = soloNode('n1', newStorage(three), { checkQuorum: true });
    electByHand(n);
    n.node.step(msg({ type: MessageType.HeartbeatResp, from: 'n2', to: 'n1', term: 1 }));
    for (let i = 0; i < 10; i++) n.node.tick();
    expect(n.status().role).toBe('leader'); // n2 was active in the first window
    for (let i = 0; i < 10; i++) n.node.tick();
    expect(n.status().role).toBe('follower'); // but silent in the second
  });

  it('a follower with a live leader ignores a vote request without raising its term', () => {
    const n = soloNode('n2', newStorage(three), { checkQuorum: true });
    n.node.step(msg({ type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 1 }));
    n.drain();
    n.node.step(msg({ type: MessageType.Vote, from: 'n3', to: 'n2', term: 2 }));
    n.node.step(msg({ type: MessageType.PreVote, from: 'n3', to: 'n2', term: 2 }));
    expect(n.drain()).toEqual([]);
    expect(n.status()).toMatchObject({ term: 1, lead: 'n1', vote: '' });
  });

  it('once the leader has been silent for an election timeout, the follower votes again', () => {
    const n = soloNode('n2', newStorage(three), { checkQuorum: true, random: () => 0.99 });
    n.node.step(msg({ type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 1 }));
    for (let i = 0; i < 10; i++) n.node.tick();
    n.drain();
    n.node.step(msg({ type: MessageType.Vote, from: 'n3', to: 'n2', term: 2 }));
    expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.VoteResp, from: 'n2', to: 'n3', term: 2, reject: false }]);
  });

  it('a vote request marked "transfer" overrides leader stickiness', () => {
    const n = soloNode('n2', newStorage(three), { checkQuorum: true });
    n.node.step(msg({ type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 1 }));
    n.drain();
    n.node.step(msg({ type: MessageType.Vote, from: 'n3', to: 'n2', term: 2, context: TRANSFER_CONTEXT }));
    expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.VoteResp, from: 'n2', to: 'n3', term: 2, reject: false }]);
    expect(n.status()).toMatchObject({ term: 2, vote: 'n3' });
  });

  it('a rejoining node with a higher term cannot depose a leader a quorum still follows', () => {
    const net = new Network(three, { checkQuorum: true });
    net.campaign('n1');
    net.isolate('n3');
    for (let i = 0; i < 30; i++) net.tick('n3');
    const stuck = net.get('n3').status().term;
    expect(stuck).toBeGreaterThan(1);
    net.heal();
    // n3's vote requests are ignored by n2 (sticky); n1 learns the higher term only through
    // n3's answer to its heartbeat, steps down, and a new election follows.
    net.tick('n1');
    expect(net.get('n1').status()).toMatchObject({ role: 'follower', term: stuck });
    for (let i = 0; i < 20 && net.leaders().length === 0; i++) for (const id of three) net.tick(id);
    expect(net.leaders()).toHaveLength(1);
    // The liveness is preserved: n3 is no longer stuck as a candidate.
    const leader = net.leaders()[0];
    for (const id of three) expect(net.get(id).status().lead).toBe(leader);
  });

  it('with PreVote and CheckQuorum a rejoining node leaves the leader alone', () => {
    const net = new Network(three, { checkQuorum: true, preVote: true });
    net.campaign('n1');
    net.isolate('n3');
    for (let i = 0; i < 30; i++) net.tick('n3');
    net.heal();
    net.tick('n1');
    expect(net.leaders()).toEqual(['n1']);
    expect(net.get('n3').status()).toMatchObject({ term: 1, lead: 'n1', role: 'follower' });
  });
});
