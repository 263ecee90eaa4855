import { describe, expect, it } from 'vitest';
import {
  ConfChangeDecodeError,
  ConfChangeType,
  decodeConfChange,
  encodeConfChange,
  InvalidConfChangeError,
  ProposalDroppedError,
} from '../../src/raft/index.ts';
import { appliedData, brief, enc, MessageType, Network, newStorage, TestNode } from './helpers.ts';

/**
 * Raft paper section 6 / dissertation 4.1-4.2.1: one server changes at a time. New servers
 * join as learners (they receive the log, never vote or count), then are promoted. A leader
 * that removes itself steps down once the change is applied.
 */

const three = ['n1', 'n2', 'n3'];

/**
 * A 3-node cluster plus n4, known to nobody yet. A joining node starts from the cluster's
 * bootstrap configuration (it replays the log's changes from there), or from a snapshot.
 */
function clusterWithNewcomer(opts = {}) {
  const net = new Network(three, opts);
  net.add(new TestNode('n4', newStorage(three), opts));
  net.campaign('n1');
  return net;
}

function change(net: Network, type: (typeof ConfChangeType)[keyof typeof ConfChangeType], node: string) {
  const r = net.get('n1').node.proposeConfChange({ type, node });
  net.stabilize();
  return r;
}

describe('6 Cluster membership changes', () => {
  it('encodes and decodes conf changes, rejecting garbage with a typed error', () => {
    const cc = { type: ConfChangeType.AddVoter, node: 'n9', context: enc('10.0.0.9:7000') };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(decodeConfChange(encodeConfChange({ type: ConfChangeType.RemoveNode, node: 'ä' }))).toEqual({
      type: ConfChangeType.RemoveNode,
      node: 'ä',
    });
    for (const bad of [new Uint8Array(), new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array([1, 7, 0, 0, 0, 0, 0, 0])]) {
      expect(() => decodeConfChange(bad)).toThrow(ConfChangeDecodeError);
    }
    const truncated = encodeConfChange(cc).slice(0, -1);
    expect(() => decodeConfChange(truncated)).toThrow(ConfChangeDecodeError);
  });

  it('a learner receives the whole log but is never counted in a quorum', () => {
    const net = clusterWithNewcomer();
    change(net, ConfChangeType.AddLearner, 'n4');
    expect(net.get('n1').status().conf).toEqual({ voters: three, learners: ['n4'] });
    net.propose('n1', 'x');
    expect(appliedData(net.get('n4'))).toEqual(['x']);
    expect(net.get('n4').status().conf).toEqual({ voters: three, learners: ['n4'] });

    // With two voters down, the leader and the learner are not a majority.
    net.isolate('n2');
    net.isolate('n3');
    const { index } = net.propose('n1', 'y');
    expect(net.get('n4').storage.lastIndex()).toBe(index);
    expect(net.get('n1').status().commit).toBe(index - 1);
  });

  it('a learner never campaigns, whatever its timer says', () => {
    const net = clusterWithNewcomer();
    change(net, ConfChangeType.AddLearner, 'n4');
    net.isolate('n4');
    for (let i = 0; i < 50; i++) net.tick('n4');
    net.get('n4').node.campaign();
    expect(net.get('n4').drain()).toEqual([]);
    expect(net.get('n4').status()).toMatchObject({ role: 'follower', term: 1 });
  });

  it('a node outside the configuration never campaigns', () => {
    const n = new TestNode('n9', newStorage(three));
    for (let i = 0; i < 50; i++) n.node.tick();
    expect(n.drain()).toEqual([]);
    expect(n.status()).toMatchObject({ role: 'follower', term: 0 });
  });

  it('candidates ask only voters, and only voters decide', () => {
    const net = clusterWithNewcomer();
    change(net, ConfChangeType.AddLearner, 'n4');
    net.get('n2').node.campaign();
    const votes = net.get('n2').drain();
    expect(brief(votes)).toEqual([
      { type: MessageType.Vote, from: 'n2', to: 'n1', term: 2 },
      { type: MessageType.Vote, from: 'n2', to: 'n3', term: 2 },
    ]);
  });

  it('AddVoter promotes the learner, and the quorum grows with it', () => {
    const net = clusterWithNewcomer();
    change(net, ConfChangeType.AddLearner, 'n4');
    change(net, ConfChangeType.AddVoter, 'n4');
    const four = [...three, 'n4'];
    for (const id of four) expect(net.get(id).status().conf).toEqual({ voters: four, learners: [] });
    // Now 3 of 4 are needed: the leader and one follower are not enough.
    net.isolate('n3');
    net.isolate('n4');
    const { index } = net.propose('n1', 'x');
    expect(net.get('n1').status().commit).toBe(index - 1);
    net.heal();
    net.tick('n1');
    expect(net.get('n1').status().commit).toBe(index);
  });

  it('one change at a time: a second proposal waits until the first is applied', () => {
    const net = clusterWithNewcomer();
    const n1 = net.get('n1').node;
    n1.proposeConfChange({ type: ConfChangeType.AddLearner, node: 'n4' });
    expect(() => n1.proposeConfChange({ type: ConfChangeType.AddVoter, node: 'n4' })).toThrow(ProposalDroppedError);
    net.stabilize();
    expect(n1.proposeConfChange({ type: ConfChangeType.AddVoter, node: 'n4' }).index).toBe(3);
  });

  it('a new leader accepts a conf change only after applying its own no-op', () => {
    const net = new Network(three);
    net.get('n1').node.campaign();
    // Deliver the election but not the no-op's acknowledgements.
    net.dropType(MessageType.AppResp);
    net.stabilize();
    expect(net.leaders()).toEqual(['n1']);
    expect(() => net.get('n1').node.proposeConfChange({ type: ConfChangeType.RemoveNode, node: 'n3' })).toThrow(ProposalDroppedError);
    net.heal();
    net.tick('n1');
    expect(net.get('n1').node.proposeConfChange({ type: ConfChangeType.RemoveNode, node: 'n3' }).index).toBe(2);
  });

  it('a change that would leave no voters is refused', () => {
    const net = new Network(['n1']);
    net.campaign('n1');
    expect(() => net.get('n1').node.proposeConfChange({ type: ConfChangeType.RemoveNode, node: 'n1' })).toThrow(InvalidConfChangeError);
    expect(() => net.get('n1').node.proposeConfChange({ type: ConfChangeType.AddVoter, node: '' })).toThrow(InvalidConfChangeError);
  });

  it('removing a follower shrinks the quorum', () => {
    const net = new Network(['n1', 'n2', 'n3', 'n4']);
    net.campaign('n1');
    change(net, ConfChangeType.RemoveNode, 'n4');
    expect(Object.keys(net.get('n1').status().progress ?? {})).toEqual(['n1', 'n2', 'n3']);
    net.isolate('n3');
    const { index } = net.propose('n1', 'x'); // 2 of 3 suffice now
    expect(net.get('n1').status().commit).toBe(index);
  });

  it('a removed leader hands off to the most caught-up voter and steps down after applying', () => {
    const net = new Network(three);
    net.campaign('n1');
    net.isolate('n3');
    net.propose('n1', 'x'); // n3 lags behind
    net.heal();
    net.intercept = (m) => (m.from === 'n1' && m.to === 'n3' ? undefined : m);
    net.get('n1').node.proposeConfChange({ type: ConfChangeType.RemoveNode, node: 'n1' });
    net.stabilize();
    const handoff = net.trace.filter((m) => m.type === MessageType.TimeoutNow);
    expect(brief(handoff)).toEqual([{ type: MessageType.TimeoutNow, from: 'n1', to: 'n2', term: 1 }]);
    expect(net.leaders()).toEqual(['n2']);
    expect(net.get('n1').status()).toMatchObject({ role: 'follower', conf: { voters: ['n2', 'n3'], learners: [] } });
    // The removed node never campaigns again.
    net.intercept = undefined;
    net.isolate('n1');
    for (let i = 0; i < 50; i++) net.tick('n1');
    expect(net.get('n1').status().role).toBe('follower');
  });
});
