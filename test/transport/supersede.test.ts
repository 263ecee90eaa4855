/**
 * Commit-only Apps and acks left out when a later message waiting for the same flush supersedes
 * them (supersede.ts, issue 13): which are left out and which must not be (another group's
 * message never stands for one's own), the send queue's bookkeeping when it leaves them out, and
 * over real loopback links that the peer receives only the superseding messages, across
 * separate sends of one turn, while every other message arrives as sent.
 */
import { describe, expect, it } from 'vitest';
import { type Message, MessageType } from '../../src/raft/types.ts';
import { SendQueue } from '../../src/transport/send-queue.ts';
import { supersededIn } from '../../src/transport/supersede.ts';
import { entries, message, plain } from './fixtures.ts';
import { connectAll, connected, stoppedAfterEach, waitFor } from './harness.ts';

const { node } = stoppedAfterEach();

/** `messages` less those supersededIn finds (the same array when none). */
function withoutSuperseded(messages: Message[], groups?: number[]): Message[] {
  const drop = supersededIn(messages, 0, messages.length, groups);
  return drop ? messages.filter((_, i) => !drop.has(i)) : messages;
}

/** The empty App the core sends when the commit index moves, and the App the turn's proposals add. */
const empty = (to: string, extra: Partial<Message> = {}) => message(MessageType.App, 'n1', to, { index: 10, logTerm: 3, commit: 9, ...extra });
const full = (to: string, extra: Partial<Message> = {}) =>
  message(MessageType.App, 'n1', to, { index: 10, logTerm: 3, commit: 9, entries: entries(2, 11), ...extra });

describe('withoutSuperseded', () => {
  it('leaves out an empty App followed by an App with entries from the same index to the same peer', () => {
    const later = full('n2', { commit: 10 });
    expect(withoutSuperseded([empty('n2'), later])).toEqual([later]);
    // Per peer: each peer's empty App goes only if its own later App supersedes it.
    const out = withoutSuperseded([empty('n2'), empty('n3'), message(MessageType.Heartbeat, 'n1', 'n3'), full('n2'), full('n3')]);
    expect(out.map((m: Message) => [m.type, m.to, m.entries.length])).toEqual([
      [MessageType.Heartbeat, 'n3', 0],
      [MessageType.App, 'n2', 2],
      [MessageType.App, 'n3', 2],
    ]);
  });

  it('keeps every App the later one does not cover', () => {
    const kept: Message[][] = [
      [empty('n2'), full('n3')], // another peer
      [empty('n2', { commit: 11 }), full('n2', { commit: 10 })], // a lower commit index later
      [empty('n2'), full('n2', { index: 12 })], // another previous index
      [empty('n2'), full('n2', { logTerm: 2 })],
      [empty('n2'), full('n2', { term: 4 })],
      [empty('n2'), empty('n2', { commit: 10 })], // no entries later: both are commit-only
      [full('n2'), empty('n2', { index: 12, commit: 12 })], // the empty one comes after
      [empty('n2'), full('n2', { index: 12 }), full('n2', { index: 10 })], // not the nearest App to n2
    ];
    for (const list of kept) expect(withoutSuperseded(list)).toBe(list);
  });

  it('returns the same array, untouched, when no App is empty', () => {
    const list = [full('n2'), message(MessageType.AppResp, 'n1', 'n2'), message(MessageType.Heartbeat, 'n1', 'n3')];
    expect(withoutSuperseded(list)).toBe(list);
    expect(withoutSuperseded([])).toEqual([]);
  });
});

const ack = (index: number, extra: Partial<Message> = {}) => message(MessageType.AppResp, 'n2', 'n1', { index, logTerm: 0, commit: 0, ...extra });

describe('withoutSuperseded, acks', () => {
  it('leaves out an ack that a later ack of the same term to the same peer covers', () => {
    expect(withoutSuperseded([ack(12), ack(12)])).toEqual([ack(12)]);
    const hb = message(MessageType.HeartbeatResp, 'n2', 'n1');
    expect(withoutSuperseded([ack(10), hb, ack(11), ack(14)])).toEqual([hb, ack(14)]);
  });

  it('keeps rejections, acks of another term or peer, and acks for a higher index than what follows', () => {
    const kept: Message[][] = [
      [ack(10, { reject: true, rejectHint: 4 }), ack(12)],
      [ack(10), ack(12, { reject: true, rejectHint: 4 })],
      [ack(10), ack(12, { term: 4 })],
      [ack(10), ack(12, { to: 'n3' })],
      [ack(12), ack(10)],
      [ack(10), full('n1')], // an App is not an ack
    ];
    for (const list of kept) expect(withoutSuperseded(list)).toBe(list);
  });
});

describe('groups', () => {
  it("never leaves a message out for another group's", () => {
    const list = [empty('n2'), ack(10), full('n2'), ack(12)];
    expect(withoutSuperseded(list, [1, 1, 2, 2])).toBe(list);
    expect(withoutSuperseded(list, [1, 2, 1, 2])).toEqual([full('n2'), ack(12)]);
  });

  it('the send queue leaves them out at take, across pushes, and keeps its byte count', () => {
    const q = new SendQueue({ maxBytes: 1 << 20, maxMessages: 1000 });
    const pushed: [Message, number][] = [
      [empty('n2'), 7],
      [ack(10), 7],
      [full('n2', { commit: 10 }), 7],
      [empty('n2'), 3],
      [ack(12), 7],
    ];
    for (const [m, g] of pushed) q.push(m, 40, g);
    expect(q.bytes).toBe(200);
    const batch = q.take(1 << 20)!;
    expect(batch.messages).toEqual([full('n2', { commit: 10 }), empty('n2'), ack(12)]);
    expect(batch.groups).toEqual([7, 3, 7]);
    expect(q.superseded).toBe(2);
    expect(q.bytes).toBe(0);
    expect(q.length).toBe(0);
    // What is pushed after a take is looked at again at the next one.
    q.push(ack(13), 40, 7);
    q.push(ack(14), 40, 7);
    expect(q.take(1 << 20)!.messages).toEqual([ack(14)]);
    expect(q.superseded).toBe(3);
  });
});

describe('a send over a real link', () => {
  it('delivers the App with entries and not the empty App it supersedes', async () => {
    const [a, b] = [await node('n1'), await node('n2')];
    connectAll([a, b]);
    await waitFor(() => connected(a, 'n2'), 'link n1 -> n2');
    const sent = [empty('n2'), message(MessageType.Heartbeat, 'n1', 'n2', { context: new Uint8Array([1]) }), full('n2', { commit: 10 })];
    a.transport.send(sent);
    await waitFor(() => b.received.length >= 2, 'the messages at n2');
    await new Promise((r) => setTimeout(r, 50));
    expect(b.received.map(plain)).toEqual([sent[1], sent[2]].map(plain));
    expect(a.transport.stats().n2!.sent).toBe(2);
    expect(a.unreachable).toEqual([]);
  });

  it('delivers the last of the acks it supersedes, sent by separate Readies of one turn', async () => {
    const [a, b] = [await node('n2'), await node('n1')];
    connectAll([a, b]);
    await waitFor(() => connected(a, 'n1'), 'link n2 -> n1');
    a.transport.send([ack(10)]);
    a.transport.send([ack(12), ack(12, { reject: true, rejectHint: 3 })]);
    await waitFor(() => b.received.length >= 2, 'the messages at n1');
    await new Promise((r) => setTimeout(r, 50));
    expect(b.received.map(plain)).toEqual([ack(12), ack(12, { reject: true, rejectHint: 3 })].map(plain));
    expect(a.transport.stats().n1!.superseded).toBe(1);
  });
});
