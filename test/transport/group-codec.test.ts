/**
 * The wire format of protocol version 2 (issue 13, mux): the group tag on every message, and
 * the coalesced Heartbeats frame with its equivalence to the messages it stands for.
 */
import { describe, expect, it } from 'vitest';
import { EntryType, type Message, MessageType } from '../../src/raft/types.ts';
import { CodecError, CodecErrorReason, Reader, type Writer } from '../../src/transport/bytes.ts';
import {
  batchSize,
  decodeGroupBatch,
  decodeGroupMessage,
  encodeBatch,
  encodeMessage,
  encodeSnapBegin,
  FrameKind,
  HEADER_SIZE,
  MAX_LOG_NUMBER,
  messageSize,
  newFrame,
  openFrame,
  PROTOCOL_VERSION,
  readSnapBegin,
} from '../../src/transport/codec.ts';
import { GroupIds } from '../../src/transport/groups.ts';
import { coalescible, encodeHeartbeats, heartbeatSize, heartbeatsFrameSize, MAX_HEARTBEATS_PER_FRAME, readHeartbeats } from '../../src/transport/heartbeats.ts';
import { everyWireMessage, idleHeartbeats, message, plain, prng } from './fixtures.ts';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CodecError) return e.reason;
    throw e;
  }
  return 'none';
}

function heartbeatFrame(groups: number[], messages: Message[]): Buffer {
  return encodeHeartbeats(
    groups,
    messages,
    messages.map((m, i) => heartbeatSize(groups[i], m)),
  );
}

function expand(frame: Uint8Array, from = 'n1', to = 'n2') {
  const { kind, body } = openFrame(frame);
  expect(kind).toBe(FrameKind.Heartbeats);
  return readHeartbeats(body, from, to);
}

describe('group tags', () => {
  it('is protocol version 2', () => {
    expect(PROTOCOL_VERSION).toBe(2);
  });

  it('round-trips the group of every message, from 0 to 2^32 - 1, at one byte below 128', () => {
    const m = everyWireMessage('n1', 'n2')[1];
    const sizes = new Map<number, number>();
    for (const g of [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, GroupIds.Max]) {
      const frame = encodeMessage(m, g);
      const got = decodeGroupMessage(frame);
      expect(got.group).toBe(g);
      expect(plain(got.message)).toEqual(plain(m));
      sizes.set(g, frame.length - HEADER_SIZE - messageSize(m));
    }
    expect([sizes.get(1), sizes.get(127), sizes.get(128), sizes.get(GroupIds.Max)]).toEqual([1, 1, 2, 5]);
  });

  it('batches messages of many groups, each keeping its group, in order', () => {
    const msgs = everyWireMessage('n1', 'n2');
    const groups = msgs.map((_, i) => (i * 977) % 5000);
    const sizes = msgs.map(messageSize);
    const frame = encodeBatch(msgs, sizes, groups);
    expect(frame.length).toBe(batchSize(sizes, groups));
    const got = decodeGroupBatch(frame);
    expect(got.groups).toEqual(groups);
    expect(got.messages.map(plain)).toEqual(msgs.map(plain));
    // Without groups, every message is group 1's (today's single group).
    expect(decodeGroupBatch(encodeBatch(msgs, sizes)).groups).toEqual(msgs.map(() => 1));
  });

  it('carries the group of a chunked snapshot in its SnapBegin', () => {
    const snap = everyWireMessage('n1', 'n2')[7];
    expect(readSnapBegin(openFrame(encodeSnapBegin(4, snap, 12_345)).body).group).toBe(12_345);
  });

  it('refuses to encode a group that is not a uint32, and to decode one above 2^32 - 1', () => {
    const m = message(MessageType.App, 'a', 'b');
    for (const g of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(
        reasonOf(() => encodeMessage(m, g)),
        String(g),
      ).toBe(CodecErrorReason.Malformed);
      expect(
        reasonOf(() => encodeBatch([m], [messageSize(m)], [g])),
        String(g),
      ).toBe(CodecErrorReason.Malformed);
      expect(
        reasonOf(() => heartbeatSize(g, message(MessageType.Heartbeat, 'a', 'b'))),
        String(g),
      ).toBe(CodecErrorReason.Malformed);
    }
    // Hand-written: a Message frame whose group is 2^32.
    const w = newFrame(FrameKind.Message, 5 + messageSize(m));
    w.varint(2 ** 32);
    const frame = Buffer.concat([w.finish().subarray(0, HEADER_SIZE + 5), encodeMessage(m).subarray(HEADER_SIZE + 1)]);
    expect(reasonOf(() => decodeGroupMessage(frame))).toBe(CodecErrorReason.Malformed);
  });
});

describe('coalesced heartbeats', () => {
  it('expand to exactly the messages that were sent (equivalence with the uncoalesced batch)', () => {
    const groups = Array.from({ length: 200 }, (_, i) => i * 13 + (i % 2 ? 0 : 70_000));
    const { messages } = idleHeartbeats('n1', 'n2', groups);
    expect(messages.every(coalescible)).toBe(true);
    const coalesced = expand(heartbeatFrame(groups, messages));
    const batched = decodeGroupBatch(encodeBatch(messages, messages.map(messageSize), groups));
    expect(coalesced.groups).toEqual(batched.groups);
    expect(coalesced.messages.map(plain)).toEqual(batched.messages.map(plain));
    expect(coalesced.messages.map(plain)).toEqual(messages.map(plain));
  });

  it('cost about a quarter of the uncoalesced batch for idle groups', () => {
    const groups = Array.from({ length: 1000 }, (_, i) => i + 1);
    const { messages } = idleHeartbeats('node-1', 'node-2', groups);
    const plainOnes = messages.filter((m) => !m.context);
    const g = groups.slice(0, plainOnes.length);
    const coalesced = heartbeatFrame(g, plainOnes).length;
    const batched = encodeBatch(plainOnes, plainOnes.map(messageSize), g).length;
    // Per heartbeat: group (1-2 bytes), flags, term (1-2), commit (1-2): 4-7 bytes, against a
    // message header of both node ids, five numbers and counts (about 23 bytes here).
    expect(coalesced / plainOnes.length).toBeLessThan(7);
    expect(batched / coalesced).toBeGreaterThan(3);
  });

  it('coalesce only what the compact form holds exactly', () => {
    const hb = idleHeartbeats('a', 'b', [1]).messages[0];
    expect(coalescible(hb)).toBe(true);
    expect(coalescible({ ...hb, type: MessageType.HeartbeatResp })).toBe(true);
    for (const odd of [
      { logTerm: 1 },
      { index: 2 },
      { reject: true },
      { rejectHint: 3 },
      { entries: [{ term: 1, index: 1, type: EntryType.Normal, data: new Uint8Array() }] },
      { type: MessageType.App },
      { type: MessageType.Vote },
    ] as Partial<Message>[]) {
      expect(coalescible({ ...hb, ...odd }), JSON.stringify(odd)).toBe(false);
    }
  });

  it('refuse unknown flags, numbers above 2^52, groups above 2^32 - 1, and every strict prefix', () => {
    const raw = (write: (w: Writer) => void, size = 64) => {
      const w = newFrame(FrameKind.Heartbeats, size);
      write(w);
      return w.finish().subarray(0, w.pos);
    };
    const read = (f: Uint8Array) => readHeartbeats(openFrame(f).body, 'a', 'b');
    const entry = (group: number, flags: number, term: number, commit: number) => (w: Writer) => {
      w.varint(1);
      w.varint(group);
      w.u8(flags);
      w.varint(term);
      w.varint(commit);
    };
    expect(read(raw(entry(5, 0, 3, 4))).messages[0]).toMatchObject({ type: MessageType.Heartbeat, term: 3, commit: 4, from: 'a', to: 'b' });
    expect(reasonOf(() => read(raw(entry(5, 4, 3, 4))))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => read(raw(entry(5, 0, MAX_LOG_NUMBER + 1, 4))))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => read(raw(entry(5, 0, 3, MAX_LOG_NUMBER + 1))))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => read(raw(entry(2 ** 32, 0, 3, 4))))).toBe(CodecErrorReason.Malformed);
    // A count far beyond the bytes that could hold it, refused before allocating.
    expect(reasonOf(() => read(raw((w) => w.varint(2 ** 40))))).toBe(CodecErrorReason.Truncated);
    // A count the bytes could hold but that would expand into too many messages at once.
    const minimal = (count: number) =>
      raw(
        (w) => {
          w.varint(count);
          for (let i = 0; i < count; i++) w.raw(new Uint8Array([1, 0, 1, 1]));
        },
        4 + count * 4,
      );
    expect(reasonOf(() => read(minimal(MAX_HEARTBEATS_PER_FRAME + 1)))).toBe(CodecErrorReason.Malformed);
    expect(read(minimal(MAX_HEARTBEATS_PER_FRAME)).messages.length).toBe(MAX_HEARTBEATS_PER_FRAME);
    const { groups, messages } = idleHeartbeats('a', 'b', [1, 2, 3, 300, 40_000]);
    const frame = heartbeatFrame(groups, messages);
    expect(frame.length).toBe(heartbeatsFrameSize(messages.map((m, i) => heartbeatSize(groups[i], m))));
    for (let n = 0; n < frame.length; n++) expect(() => read(frame.subarray(0, n)), `prefix ${n}`).toThrow(CodecError);
    expect(reasonOf(() => read(Buffer.concat([frame, Buffer.from([0])])))).toBe(CodecErrorReason.Malformed);
  });

  it('mutated frames only ever raise CodecError or expand to coalescible messages (seeded)', () => {
    const rnd = prng(0x4b1d);
    const { groups, messages } = idleHeartbeats(
      'a',
      'b',
      Array.from({ length: 12 }, (_, i) => i * 90),
    );
    const good = heartbeatFrame(groups, messages);
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(good);
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        b[2 + Math.floor(rnd() * (b.length - 2))] = rnd() < 0.5 ? Math.floor(rnd() * 256) : 0xff;
      }
      const cut = rnd() < 0.2 ? Math.floor(rnd() * b.length) : b.length;
      try {
        const out = readHeartbeats(new Reader(b.subarray(0, cut), HEADER_SIZE), 'a', 'b');
        // Plain checks: expect() in a 20,000-iteration loop costs seconds.
        for (const m of out.messages) {
          if (!coalescible(m) || m.term > MAX_LOG_NUMBER) throw new Error(`bad expansion ${JSON.stringify(plain(m))}`);
        }
        decoded++;
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
      }
    }
    expect(decoded).toBeGreaterThan(100);
  });
});
