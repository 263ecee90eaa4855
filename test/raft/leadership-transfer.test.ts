import { describe, expect, it } from 'vitest';
import { TRANSFER_CONTEXT } from '../../src/raft/election.ts';
import { ProposalDroppedError } from '../../src/raft/index.ts';
import { brief, enc, MessageType, Network } from './helpers.ts';

/**
 * Dissertation 3.10: the leader catches the target up, then sends TimeoutNow; the target
 * campaigns at once. Proposals are refused meanwhile, and the transfer is abandoned after an
 * election timeout.
 */

const three = ['n1', 'n2', 'n3'];

function cluster(opts = {}) {
  const net = new Network(three, opts);
  net.campaign('n1');
  return net;
}

describe('Leadership transfer', () => {
  it('to an up-to-date follower: TimeoutNow at once, and the target wins the next term', () => {
    const net = cluster();
    net.get('n1').node.transferLeadership('n2');
    const out = net.get('n1').drain();
    expect(brief(out)).toEqual([{ type: MessageType.TimeoutNow, from: 'n1', to: 'n2', term: 1 }]);
    net.deliver(out);
    expect(net.leaders()).toEqual(['n2']);
    expect(net.get('n2').status().term).toBe(2);
    expect(net.get('n1').status()).toMatchObject({ role: 'follower', lead: 'n2' });
  });

  it('the target campaigns without PreVote and marks its vote requests "transfer"', () => {
    const net = cluster({ preVote: true, checkQuorum: true });
    net.get('n1').node.transferLeadership('n2');
    net.deliver(net.get('n1').drain());
    const votes = net.trace.filter((m) => m.type === MessageType.Vote && m.from === 'n2');
    expect(votes.map((m) => [m.from, m.to, m.term])).toEqual([
      ['n2', 'n1', 2],
      ['n2', 'n3', 2],
    ]);
    for (const v of votes) expect(v.context).toEqual(TRANSFER_CONTEXT);
    expect(net.trace.some((m) => m.type === MessageType.PreVote && m.from === 'n2')).toBe(false);
    // Stickiness would have made n3 ignore a normal candidate; the transfer overrides it.
    expect(net.leaders()).toEqual(['n2']);
  });

  it('to a lagging follower: the leader first catches it up, then sends TimeoutNow', () => {
    const net = cluster();
    net.isolate('n3');
    net.propose('n1', 'x');
    net.heal();
    net.get('n1').node.transferLeadership('n3');
    const first = net.get('n1').drain();
    // n3 is still in the replicate state with `next` past the lost entry: an empty App probes it.
    expect(brief(first, ['index'])).toEqual([{ type: MessageType.App, from: 'n1', to: 'n3', term: 1, index: 2 }]);
    net.deliver(first);
    const sent = net.trace.map((m) => `${m.type} ${m.from}>${m.to}`);
    expect(sent.indexOf('timeout-now n1>n3')).toBeGreaterThan(sent.indexOf('app-resp n3>n1'));
    expect(net.leaders()).toEqual(['n3']);
  });

  it('proposals are refused while a transfer is in progress', () => {
    const net = cluster();
    net.isolate('n3');
    net.get('n1').node.transferLeadership('n3');
    net.stabilize();
    expect(net.get('n1').status().leadTransferee).toBe('n3');
    expect(() => net.get('n1').node.propose(enc('x'))).toThrow(ProposalDroppedError);
  });

  it('a transfer that does not finish within an election timeout is abandoned', () => {
    const net = cluster();
    net.isolate('n3');
    net.get('n1').node.transferLeadership('n3');
    net.stabilize();
    for (let i = 0; i < 9; i++) net.tick('n1');
    expect(net.get('n1').status().leadTransferee).toBe('n3');
    net.tick('n1');
    expect(net.get('n1').status()).toMatchObject({ role: 'leader', leadTransferee: '' });
    expect(net.get('n1').node.propose(enc('x')).index).toBe(2);
  });

  it('a follower forwards the request to the leader', () => {
    const net = cluster();
    net.get('n3').node.transferLeadership('n3');
    const out = net.get('n3').drain();
    expect(brief(out)).toEqual([{ type: MessageType.TransferLeader, from: 'n3', to: 'n1', term: 1 }]);
    net.deliver(out);
    expect(net.leaders()).toEqual(['n3']);
  });

  it('transfers to itself or to a learner are ignored', () => {
    const net = new Network(['n1', 'n2', 'n3', 'n4'], { learners: ['n4'] });
    net.campaign('n1');
    net.get('n1').node.transferLeadership('n1');
    net.get('n1').node.transferLeadership('n4');
    expect(net.get('n1').drain()).toEqual([]);
    expect(net.get('n1').status()).toMatchObject({ role: 'leader', leadTransferee: '' });
  });

  it('a new transfer target replaces the previous one', () => {
    const net = cluster();
    net.isolate('n3');
    net.get('n1').node.transferLeadership('n3');
    net.stabilize();
    net.get('n1').node.transferLeadership('n2');
    net.stabilize();
    expect(net.leaders()).toEqual(['n2']);
  });
});
