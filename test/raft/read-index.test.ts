import { describe, expect, it } from 'vitest';
import { InvalidConfigError, type Message, RawNode } from '../../src/raft/index.ts';
import { brief, dec, electByHand, enc, MessageType, msg, Network, newStorage, soloNode, type TestNode } from './helpers.ts';

/**
 * Dissertation 6.4: a read is served at the commit index recorded when it arrived, once a quorum
 * has confirmed leadership in a round that started after the read arrived. Reads waiting at the
 * same time share one round. A leader serves none before committing an entry of its term.
 */

const three = ['n1', 'n2', 'n3'];

/** A leader of term 1 whose no-op is committed; heartbeats and acks are driven by hand. */
function leader(opts = {}): TestNode {
  const n = soloNode('n1', newStorage(three), opts);
  electByHand(n);
  n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 1 }));
  n.drain();
  return n;
}

function ack(n: TestNode, from: string, hb: Message): void {
  n.node.step(msg({ type: MessageType.HeartbeatResp, from, to: 'n1', term: 1, context: hb.context }));
}

const rounds = (ms: Message[]) =>
  ms.filter((m) => m.type === MessageType.Heartbeat).map((m) => `${m.to}:${m.context ? dec(m.context) : '-'}`);

describe('ReadIndex', () => {
  it('one confirmation round: heartbeats carry the round, a quorum of acks releases the read', () => {
    const n = leader();
    n.node.readIndex(enc('r1'));
    const out = n.drain();
    expect(rounds(out)).toEqual(['n2:1', 'n3:1']);
    expect(n.readStates).toEqual([]);
    ack(n, 'n3', out[1]);
    n.drain();
    expect(n.readStates).toEqual([{ index: 1, context: enc('r1') }]);
  });

  it('reads arriving during a round wait for the next one, and share it', () => {
    const n = leader();
    n.node.readIndex(enc('r1'));
    const round1 = n.drain();
    n.node.readIndex(enc('r2'));
    n.node.readIndex(enc('r3'));
    expect(rounds(n.drain())).toEqual([]); // no extra round per read

    // An ack of round 1 was sent before r2 and r3 arrived: it releases r1 only.
    ack(n, 'n2', round1[0]);
    const round2 = n.drain();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1']);
    expect(rounds(round2)).toEqual(['n2:2', 'n3:2']);

    ack(n, 'n2', round2[0]);
    n.drain();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1', 'r2', 'r3']);
  });

  it('a regular heartbeat starts the waiting round and re-sends a lost one', () => {
    const n = leader();
    n.node.readIndex(enc('r1'));
    n.drain(); // round 1 lost
    n.node.readIndex(enc('r2'));
    n.node.tick();
    const hb = n.drain();
    expect(rounds(hb)).toEqual(['n2:2', 'n3:2']);
    ack(n, 'n3', hb[1]);
    n.drain();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1', 'r2']);
  });

  it('a late ack of an older round does not confirm a newer one', () => {
    const n = leader();
    n.node.readIndex(enc('r1'));
    const round1 = n.drain();
    n.node.readIndex(enc('r2'));
    n.node.tick(); // the heartbeat starts round 2 for r2
    expect(rounds(n.drain())).toEqual(['n2:2', 'n3:2']);
    ack(n, 'n2', round1[0]); // sent before r2 arrived
    n.drain();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1']);
  });

  it('the read index is the commit index when the read arrived', () => {
    const n = leader();
    n.node.readIndex(enc('r1'));
    const hb = n.drain();
    n.node.propose(enc('x'));
    n.drain();
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 2 }));
    n.drain();
    expect(n.status().commit).toBe(2);
    ack(n, 'n2', hb[0]);
    n.drain();
    expect(n.readStates).toEqual([{ index: 1, context: enc('r1') }]);
  });

  it('a new leader holds reads until it has committed an entry of its term', () => {
    const n = soloNode('n1', newStorage(three));
    electByHand(n);
    n.node.readIndex(enc('r1'));
    expect(rounds(n.drain())).toEqual([]);
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 1 }));
    const out = n.drain();
    expect(rounds(out)).toEqual(['n2:1', 'n3:1']);
    ack(n, 'n2', out.find((m) => m.type === MessageType.Heartbeat)!);
    n.drain();
    expect(n.readStates).toEqual([{ index: 1, context: enc('r1') }]);
  });

  it('a follower forwards the read and receives the read state from the leader', () => {
    const net = new Network(three);
    net.campaign('n1');
    net.propose('n1', 'x');
    net.get('n3').node.readIndex(enc('f1'));
    const fwd = net.get('n3').drain();
    expect(brief(fwd)).toEqual([{ type: MessageType.ReadIndex, from: 'n3', to: 'n1', term: 0 }]);
    net.deliver(fwd);
    expect(net.get('n3').readStates).toEqual([{ index: 2, context: enc('f1') }]);
    expect(net.get('n1').readStates).toEqual([]);
  });

  it('with no leader a read is dropped', () => {
    const n = soloNode('n2', newStorage(three));
    n.node.readIndex(enc('r'));
    expect(n.drain()).toEqual([]);
    expect(n.readStates).toEqual([]);
  });

  it('a single-voter leader answers at once', () => {
    const net = new Network(['n1']);
    net.campaign('n1');
    net.get('n1').node.readIndex(enc('r'));
    net.stabilize();
    expect(net.get('n1').readStates).toEqual([{ index: 1, context: enc('r') }]);
  });

  it('pending reads die with the leadership', () => {
    const n = leader();
    n.node.readIndex(enc('r1'));
    const hb = n.drain();
    n.node.step(msg({ type: MessageType.App, from: 'n2', to: 'n1', term: 2, index: 1, logTerm: 1 }));
    n.drain();
    n.node.step(msg({ type: MessageType.HeartbeatResp, from: 'n2', to: 'n1', term: 1, context: hb[0].context }));
    n.drain();
    expect(n.readStates).toEqual([]);
  });

  it("lease reads answer without a round, and require CheckQuorum", () => {
    expect(
      () =>
        new RawNode({
          id: 'n1',
          storage: newStorage(three),
          electionTick: 10,
          heartbeatTick: 1,
          random: () => 0,
          readOnlyOption: 'lease',
        }),
    ).toThrow(InvalidConfigError);
    const n = leader({ checkQuorum: true, readOnlyOption: 'lease' });
    n.node.readIndex(enc('r1'));
    expect(rounds(n.drain())).toEqual([]);
    expect(n.readStates).toEqual([{ index: 1, context: enc('r1') }]);
  });
});
