import { describe, expect, it } from 'vitest';
import { Inflights } from '../../src/raft/inflights.ts';
import { Progress } from '../../src/raft/progress.ts';
import { type Message, ProgressState } from '../../src/raft/types.ts';
import { electByHand, enc, MessageType, msg, type NodeOptions, newStorage, soloNode, type TestNode } from './helpers.ts';

/**
 * Flow control of the leader's replication (etcd-style Progress): probe sends one App at a
 * time, replicate streams within an inflight window (count and bytes), messages are bounded by
 * maxSizePerMsg, and losses send a follower back to probing.
 */

const three = ['n1', 'n2', 'n3'];

const appsTo = (ms: Message[], to: string) => ms.filter((m) => m.type === MessageType.App && m.to === to).map((m) => [m.index, m.entries.map((e) => e.index)]);

/** A term-1 leader whose no-op went out; n2 is still probing. */
function leader(opts: NodeOptions = {}): { n: TestNode; first: Message[] } {
  const n = soloNode('n1', newStorage(three), opts);
  const first = electByHand(n);
  return { n, first };
}

function ack(n: TestNode, index: number, from = 'n2'): void {
  n.node.step(msg({ type: MessageType.AppResp, from, to: 'n1', term: 1, index }));
}

describe('Progress and flow control', () => {
  it('probe: one App in flight until the follower answers or a heartbeat response arrives', () => {
    const { n, first } = leader();
    expect(appsTo(first, 'n2')).toEqual([[0, [1]]]);
    n.node.propose(enc('x'));
    n.node.propose(enc('y'));
    expect(appsTo(n.drain(), 'n2')).toEqual([]);
    expect(n.status().progress?.n2).toEqual({ match: 0, next: 1, state: 'probe' });
    n.node.step(msg({ type: MessageType.HeartbeatResp, from: 'n2', to: 'n1', term: 1 }));
    expect(appsTo(n.drain(), 'n2')).toEqual([[0, [1, 2, 3]]]);
  });

  it('replicate: Apps stream without waiting, up to maxInflightMsgs', () => {
    const { n } = leader({ maxInflightMsgs: 2 });
    ack(n, 1);
    n.drain();
    expect(n.status().progress?.n2.state).toBe('replicate');
    for (const v of ['a', 'b', 'c']) n.node.propose(enc(v));
    expect(appsTo(n.drain(), 'n2')).toEqual([
      [1, [2]],
      [2, [3]],
    ]);
    expect(n.status().progress?.n2).toEqual({ match: 1, next: 4, state: 'replicate' });
    ack(n, 2); // frees one slot
    expect(appsTo(n.drain(), 'n2')).toEqual([[3, [4]]]);
  });

  it('replicate: the inflight window is also bounded in bytes', () => {
    // Each entry counts 16 bytes of overhead plus its data: 20 bytes for 4-byte payloads.
    const { n } = leader({ maxInflightBytes: 40 });
    ack(n, 1);
    n.drain();
    for (const v of ['aaaa', 'bbbb', 'cccc']) n.node.propose(enc(v));
    expect(appsTo(n.drain(), 'n2')).toEqual([
      [1, [2]],
      [2, [3]],
    ]);
    ack(n, 3);
    expect(appsTo(n.drain(), 'n2')).toEqual([[3, [4]]]);
  });

  it('maxSizePerMsg splits a long catch-up into several Apps', () => {
    const storage = newStorage(three, { terms: [1, 1, 1, 1, 1, 1], hardState: { term: 1, vote: '', commit: 0 } });
    // Empty entries count 16 bytes: two fit in 40.
    const n = soloNode('n1', storage, { maxSizePerMsg: 40 });
    expect(appsTo(electByHand(n), 'n2')).toEqual([[6, [7]]]);
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 2, index: 6, reject: true, rejectHint: 0 }));
    expect(appsTo(n.drain(), 'n2')).toEqual([[0, [1, 2]]]); // still probing: one App
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 2, index: 2 }));
    expect(appsTo(n.drain(), 'n2')).toEqual([
      [2, [3, 4]],
      [4, [5, 6]],
      [6, [7]],
    ]);
  });

  it('a full window whose Apps were all lost recovers through an empty App after a heartbeat', () => {
    const { n } = leader({ maxInflightMsgs: 2 });
    ack(n, 1);
    n.drain();
    for (const v of ['a', 'b', 'c']) n.node.propose(enc(v));
    n.drain(); // both Apps are lost
    n.node.step(msg({ type: MessageType.HeartbeatResp, from: 'n2', to: 'n1', term: 1 }));
    expect(appsTo(n.drain(), 'n2')).toEqual([[3, []]]);
    // The follower lacks index 3: its rejection sends the leader back to probing from 2.
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 3, reject: true, rejectHint: 1 }));
    expect(appsTo(n.drain(), 'n2')).toEqual([[1, [2, 3, 4]]]);
    expect(n.status().progress?.n2).toEqual({ match: 1, next: 2, state: 'probe' });
  });

  it('a rejection while replicating falls back to probing from match + 1', () => {
    const { n } = leader();
    ack(n, 1);
    for (const v of ['a', 'b']) n.node.propose(enc(v));
    n.drain();
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 2, reject: true, rejectHint: 1 }));
    expect(n.status().progress?.n2).toEqual({ match: 1, next: 2, state: 'probe' });
    expect(appsTo(n.drain(), 'n2')).toEqual([[1, [2, 3]]]);
  });

  it('a stale rejection is ignored', () => {
    const { n } = leader();
    ack(n, 1);
    n.node.propose(enc('a'));
    n.drain();
    n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 1, index: 1, reject: true, rejectHint: 0 }));
    expect(n.status().progress?.n2).toEqual({ match: 1, next: 3, state: 'replicate' });
    expect(n.drain()).toEqual([]);
  });

  it('an unreachable follower goes back to probing', () => {
    const { n } = leader();
    ack(n, 1);
    n.drain();
    n.node.reportUnreachable('n2');
    expect(n.status().progress?.n2).toEqual({ match: 1, next: 2, state: 'probe' });
  });
});

describe('Progress (unit)', () => {
  it('maybeUpdate ignores stale acknowledgements and never moves next backwards', () => {
    const pr = new Progress(5, 10, 0);
    expect(pr.maybeUpdate(3)).toBe(true);
    expect([pr.match, pr.next]).toEqual([3, 5]);
    expect(pr.maybeUpdate(2)).toBe(false);
    expect(pr.maybeUpdate(7)).toBe(true);
    expect([pr.match, pr.next]).toEqual([7, 8]);
  });

  it('maybeDecrTo in probe uses the hint but never goes below match + 1', () => {
    const pr = new Progress(10, 10, 0);
    pr.match = 3;
    expect(pr.maybeDecrTo(8, 7)).toBe(false); // not the App we sent (next - 1 = 9)
    expect(pr.maybeDecrTo(9, 6)).toBe(true);
    expect(pr.next).toBe(7);
    expect(pr.maybeDecrTo(6, 0)).toBe(true);
    expect(pr.next).toBe(4);
  });

  it('becomeProbe after a snapshot resumes after the snapshot index', () => {
    const pr = new Progress(2, 10, 0);
    pr.becomeSnapshot(20);
    expect([pr.state, pr.next, pr.isPaused()]).toEqual([ProgressState.Snapshot, 21, true]);
    pr.becomeProbe();
    expect([pr.state, pr.next]).toEqual([ProgressState.Probe, 21]);
  });

  it('inflights free in order and report fullness by count and by bytes', () => {
    const inf = new Inflights(3, 100);
    inf.add(1, 10);
    inf.add(2, 10);
    expect(inf.full()).toBe(false);
    inf.add(3, 10);
    expect(inf.full()).toBe(true);
    inf.freeLE(2);
    expect([inf.count(), inf.full()]).toEqual([1, false]);
    inf.add(4, 90);
    expect(inf.full()).toBe(true); // 100 bytes
    inf.freeLE(10);
    expect(inf.count()).toBe(0);
  });
});
