import { describe, expect, it } from 'vitest';
import { LeaseClock } from '../../src/node/lease.ts';
import { InvalidConfigError, type Message, RawNode } from '../../src/raft/index.ts';
import { decodeRound, encodeRound } from '../../src/raft/read-index.ts';
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

const rounds = (ms: Message[]) => ms.filter((m) => m.type === MessageType.Heartbeat).map((m) => `${m.to}:${m.context ? dec(m.context) : '-'}`);

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

  it('a read that comes with none of its caller in flight asks every follower; narrow reads ask the followers a quorum needs', () => {
    const n = leader();
    n.node.readIndex(enc('r1'));
    const round1 = n.drain();
    expect(rounds(round1)).toEqual(['n2:1', 'n3:1']); // the fastest answer confirms it
    ack(n, 'n3', round1[1]);
    n.drain();
    n.node.readIndex(enc('r2'), true);
    const round2 = n.drain();
    expect(rounds(round2)).toEqual(['n3:2']); // one follower makes a quorum of three: n3 answered last
    ack(n, 'n3', round2[0]);
    n.drain();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1', 'r2']);
    // A round that also serves a read without the hint asks every follower.
    n.node.readIndex(enc('r3'), true);
    const round3 = n.drain();
    n.node.readIndex(enc('r4'), true);
    n.node.readIndex(enc('r5'));
    ack(n, 'n3', round3[0]);
    expect(rounds(n.drain())).toEqual(['n2:4', 'n3:4']);
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1', 'r2', 'r3']);
  });

  it('a follower that stops answering delays narrow reads by one heartbeat, once: the regular heartbeat carries the round to all', () => {
    const n = leader();
    n.node.readIndex(enc('r1'), true);
    expect(rounds(n.drain())).toEqual(['n2:1']); // n2 is down: lost
    n.node.tick();
    const hb = n.drain();
    expect(rounds(hb)).toEqual(['n2:1', 'n3:1']); // the round in flight, re-sent to every follower
    ack(n, 'n3', hb[1]);
    n.drain();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1']);
    n.node.readIndex(enc('r2'), true);
    expect(rounds(n.drain())).toEqual(['n3:2']);
  });

  it('with five voters a narrow read round asks two followers', () => {
    const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const n = soloNode('n1', newStorage(five));
    electByHand(n);
    for (const from of ['n2', 'n3']) n.node.step(msg({ type: MessageType.AppResp, from, to: 'n1', term: 1, index: 1 }));
    n.drain();
    n.node.readIndex(enc('r1'), true);
    const out = n.drain();
    expect(rounds(out)).toEqual(['n2:1', 'n3:1']);
    ack(n, 'n2', out[0]);
    n.drain();
    expect(n.readStates).toEqual([]); // n1 and n2 are not a quorum of five
    ack(n, 'n3', out[1]);
    n.drain();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1']);
  });

  it('a forwarded read loses the hint: the leader asks every follower for it', () => {
    const net = new Network(three);
    net.campaign('n1');
    net.propose('n1', 'x');
    net.get('n3').node.readIndex(enc('f1'), true);
    const fwd = net.get('n3').drain();
    expect(fwd[0].narrow).toBeUndefined();
    net.get('n1').node.step(fwd[0]);
    expect(rounds(net.get('n1').drain())).toEqual(['n2:1', 'n3:1']);
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

  it('lease mode requires CheckQuorum', () => {
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
  });
});

describe('Lease reads', () => {
  const lease = { checkQuorum: true, readOnlyOption: 'lease' as const };
  const LEASE_MS = 450;

  /**
   * A lease-mode leader whose lease is measured by a LeaseClock (src/node/lease.ts) on a clock
   * moved by hand; `send` hands the Ready's messages out "now", as the node's send does.
   */
  function leaseLeader() {
    let now = 1000;
    const clock = new LeaseClock({ now: () => now, durationMs: LEASE_MS });
    const n = leader({ ...lease, leaseHolds: (term: number, round: number) => clock.holds(term, round) });
    return {
      n,
      clock,
      at: (ms: number) => {
        now = ms;
      },
      send: (): Message[] => {
        const out = n.drain();
        clock.sending(out);
        return out;
      },
    };
  }

  it('a new leader has no lease: its first read takes a round, whose quorum ack starts the lease', () => {
    const { n, send } = leaseLeader();
    n.node.readIndex(enc('r1'));
    const out = send();
    expect(rounds(out)).toEqual(['n2:1', 'n3:1']);
    ack(n, 'n2', out[0]);
    send();
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1']);
    n.node.readIndex(enc('r2'));
    expect(rounds(send())).toEqual([]); // served from the lease
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['r1', 'r2']);
  });

  it('leaseReadIndex (the RESP fast path) answers exactly when readIndex would answer at once', () => {
    const { n, at, send } = leaseLeader();
    expect(leader().node.leaseReadIndex()).toBeUndefined(); // safe mode: never
    expect(n.node.leaseReadIndex()).toBeUndefined(); // no confirmed round yet
    n.node.tick();
    const hb = send(); // round 1 leaves at 1000
    ack(n, 'n2', hb[0]);
    send();
    expect(n.node.leaseReadIndex()).toBe(1);
    at(1000 + LEASE_MS - 1);
    expect(n.node.leaseReadIndex()).toBe(1);
    at(1000 + LEASE_MS); // run out, with no tick in between
    expect(n.node.leaseReadIndex()).toBeUndefined();
    n.node.readIndex(enc('lapsed'));
    expect(rounds(send())).toEqual(['n2:2', 'n3:2']); // readIndex agrees: a round
    // A leadership transfer ends the lease at once.
    const { n: m, send: sendM } = leaseLeader();
    m.node.tick();
    ack(m, 'n3', sendM()[1]);
    sendM();
    expect(m.node.leaseReadIndex()).toBe(1);
    m.node.transferLeadership('n2');
    expect(m.node.leaseReadIndex()).toBeUndefined();
    // A follower, or a leader of a higher term before its own no-op commits, has none either.
    m.node.step(msg({ type: MessageType.Heartbeat, from: 'n2', to: 'n1', term: 2 }));
    expect(m.node.leaseReadIndex()).toBeUndefined();
  });

  it('leaseReadIndex: none before the leader commits an entry of its term, whatever the lease', () => {
    const clock = new LeaseClock({ now: () => 1000, durationMs: LEASE_MS });
    const n = soloNode('n1', newStorage(three), { ...lease, leaseHolds: (term: number, round: number) => clock.holds(term, round) });
    electByHand(n); // its no-op is not acknowledged yet
    n.node.tick();
    const hb = n.drain();
    clock.sending(hb);
    ack(n, 'n2', hb.find((m) => m.type === MessageType.Heartbeat)!);
    clock.sending(n.drain());
    expect(n.node.leaseReadIndex()).toBeUndefined(); // a lease, but no own-term commit
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 1 }));
    clock.sending(n.drain());
    expect(n.node.leaseReadIndex()).toBe(1);
  });

  it('without a clock (no leaseHolds) lease mode confirms every read with a round', () => {
    const n = leader(lease);
    n.node.readIndex(enc('r1'));
    ack(n, 'n2', n.drain()[0]);
    n.drain();
    n.node.readIndex(enc('r2'));
    expect(rounds(n.drain())).toEqual(['n2:2', 'n3:2']);
  });

  it('the lease runs from when the round left, on the clock: a stall without ticks does not stretch it', () => {
    const { n, at, send } = leaseLeader(); // electionTick 10, heartbeatTick 1
    n.node.tick();
    at(1100); // the Ready with round 1 is taken later than the tick that started the round
    const hb = send();
    expect(rounds(hb)).toEqual(['n2:1', 'n3:1']); // a round per heartbeat, reads or not
    ack(n, 'n3', hb[1]);
    send();
    at(1100 + LEASE_MS - 1);
    n.node.readIndex(enc('in-lease'));
    expect(rounds(send())).toEqual([]);
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['in-lease']);
    // No tick has run since (an event-loop stall): with ticks as the clock the lease would
    // still hold; on the monotonic clock it has run out.
    at(1100 + LEASE_MS);
    n.node.readIndex(enc('lapsed'));
    expect(rounds(send())).toEqual(['n2:2', 'n3:2']);
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['in-lease']);
  });

  it('a late ack extends the lease from when the round left, not when the ack arrived', () => {
    const { n, at, send } = leaseLeader();
    n.node.tick();
    const hb = send(); // round 1 leaves at 1000
    at(1000 + LEASE_MS);
    ack(n, 'n2', hb[0]); // arrives a lease later
    send();
    n.node.readIndex(enc('r'));
    expect(rounds(send())).toEqual(['n2:2', 'n3:2']);
    expect(n.readStates).toEqual([]);
  });

  it('rounds that leave out of order: the lease starts at the earliest send of the confirmed round or a later one', () => {
    const { n, at, clock, send } = leaseLeader();
    n.node.tick();
    const r1 = n.drain(); // round 1, held back (a Ready behind a save)
    n.node.tick();
    const r2 = send(); // round 2 leaves first, at 1000
    expect(rounds(r2)).toEqual(['n2:2', 'n3:2']);
    at(1200);
    clock.sending(r1);
    ack(n, 'n2', r1[0]); // confirms round 1: n2 may have had round 2, from 1000, before it
    send();
    at(1000 + LEASE_MS - 1);
    n.node.readIndex(enc('in'));
    expect(rounds(send())).toEqual([]);
    at(1000 + LEASE_MS); // round 1's own send was only LEASE_MS - 200 ago
    n.node.readIndex(enc('out'));
    expect(rounds(send())).not.toEqual([]);
    expect(n.readStates.map((r) => dec(r.context))).toEqual(['in']);
  });

  // Issue 11, hole 2 (also etcd-io/raft#99, tikv#1595): the transferee's vote request carries
  // the transfer context, so voters grant it despite this leader's lease.
  it('a leadership transfer ends the lease when it starts, and for the rest of the term even if it aborts', () => {
    const { n, send } = leaseLeader();
    n.node.readIndex(enc('r1'));
    ack(n, 'n2', send()[0]);
    send();
    n.node.readIndex(enc('r2'));
    expect(rounds(send())).toEqual([]); // the lease holds
    n.node.transferLeadership('n2');
    expect(send().map((m) => `${m.type}:${m.to}`)).toContain(`${MessageType.TimeoutNow}:n2`);
    n.node.readIndex(enc('during'));
    expect(rounds(send())).toEqual(['n2:2', 'n3:2']); // no longer served from the lease
    for (let t = 0; t < 10; t++) n.node.tick(); // the transfer times out and is aborted
    const hb = send().filter((m) => m.type === MessageType.Heartbeat);
    expect(n.node.leadTransferee).toBe('');
    ack(n, 'n3', hb[hb.length - 1]); // a fresh round confirmed by a quorum...
    send();
    n.node.readIndex(enc('after'));
    expect(rounds(send())).not.toEqual([]); // ...still starts no lease in this term
    expect(n.readStates.map((r) => dec(r.context))).not.toContain('after');
  });

  it('a freshly started node keeps the promise it may have made before a crash', () => {
    const n = soloNode('n2', newStorage(three), lease);
    n.node.step(msg({ type: MessageType.Vote, from: 'n3', to: 'n2', term: 1 }));
    expect(n.drain()).toEqual([]);
    for (let t = 0; t < 10; t++) n.node.tick();
    n.drain();
    n.node.step(msg({ type: MessageType.Vote, from: 'n3', to: 'n2', term: 2 }));
    expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.VoteResp, from: 'n2', to: 'n3', term: 2, reject: false }]);
  });
});

describe('ReadIndex round contexts', () => {
  it('round-trip every round number and reject anything else a peer might echo', () => {
    for (const r of [1, 9, 10, 12345, 2 ** 40, 9_007_199_254_740_991]) expect(decodeRound(encodeRound(r))).toBe(r);
    const bytes = (s: string) => new TextEncoder().encode(s);
    for (const bad of ['', '0', '01', '-1', '1a', ' 1', '12345678901234567', '\u00ff']) expect(decodeRound(bytes(bad))).toBeUndefined();
  });
});
