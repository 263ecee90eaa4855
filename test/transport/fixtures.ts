/** Shared test data for the transport tests: messages of every wire type, a seeded PRNG. */
import { type Entry, EntryType, type Message, MessageType, type NodeId } from '../../src/raft/types.ts';

/** A seeded PRNG so fuzz failures replay. */
export { mulberry32 as prng } from '../../src/kv/prng.ts';

export function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 131 + seed * 7) & 0xff;
  return out;
}

export function entries(count: number, firstIndex: number, size = 16): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      term: 3,
      index: firstIndex + i,
      type: i % 5 === 4 ? EntryType.ConfChange : EntryType.Normal,
      data: bytesOf(i % 7 === 0 ? 0 : size, i),
    });
  }
  return out;
}

export function message(type: MessageType, from: NodeId, to: NodeId, extra: Partial<Message> = {}): Message {
  return { type, from, to, term: 3, logTerm: 2, index: 10, entries: [], commit: 9, reject: false, rejectHint: 0, ...extra };
}

/** One realistic message of every type that crosses the network. */
export function everyWireMessage(from: NodeId, to: NodeId): Message[] {
  const ctx = new TextEncoder().encode('read-ctx-42');
  return [
    message(MessageType.Prop, from, to, { term: 0, logTerm: 0, index: 0, commit: 0, entries: entries(3, 0) }),
    message(MessageType.App, from, to, { entries: entries(16, 11), commit: 2 ** 40 }),
    message(MessageType.AppResp, from, to, { reject: true, rejectHint: 7, logTerm: 1 }),
    message(MessageType.Vote, from, to, { context: new TextEncoder().encode('transfer') }),
    message(MessageType.VoteResp, from, to, { reject: true }),
    message(MessageType.PreVote, from, to, { term: 4 }),
    message(MessageType.PreVoteResp, from, to, { term: 4 }),
    message(MessageType.Snap, from, to, {
      snapshot: {
        meta: { index: 1000, term: 3, conf: { voters: [from, to, 'n3'], learners: ['learner-é'] } },
        data: bytesOf(5000, 9),
      },
    }),
    message(MessageType.Heartbeat, from, to, { context: new Uint8Array([0, 0, 0, 12]) }),
    message(MessageType.HeartbeatResp, from, to, { context: new Uint8Array([0, 0, 0, 12]) }),
    message(MessageType.TransferLeader, from, to),
    message(MessageType.TimeoutNow, from, to, { term: 2 ** 52 }),
    message(MessageType.ReadIndex, from, to, { entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }] }),
    message(MessageType.ReadIndexResp, from, to, { index: 123_456_789, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }] }),
  ];
}

/** A comparable form of a message: byte fields as plain arrays, absent optionals omitted. */
export function plain(m: Message): unknown {
  const out: Record<string, unknown> = {
    ...m,
    entries: m.entries.map((e) => ({ ...e, data: Array.from(e.data) })),
  };
  if (m.context) out.context = Array.from(m.context);
  else delete out.context;
  if (m.snapshot) out.snapshot = { meta: m.snapshot.meta, data: Array.from(m.snapshot.data) };
  else delete out.snapshot;
  return out;
}

/**
 * What idle groups send: a leader's heartbeat (commit, sometimes a read round) or a follower's
 * answer, one per group in `groups`, shaped exactly as the core makes them (replication.ts).
 */
export function idleHeartbeats(from: NodeId, to: NodeId, groups: number[]): { groups: number[]; messages: Message[] } {
  const messages = groups.map((g, i) => {
    const base = { from, to, term: 1 + (g % 5) * 1000, logTerm: 0, index: 0, entries: [], reject: false, rejectHint: 0 };
    const context = i % 3 === 1 ? new TextEncoder().encode(String(1000 + i)) : undefined;
    const type = i % 2 === 0 ? MessageType.Heartbeat : MessageType.HeartbeatResp;
    const m: Message = { ...base, type, commit: type === MessageType.Heartbeat ? g * 7 : 0 };
    if (context) m.context = context;
    return m;
  });
  return { groups, messages };
}
