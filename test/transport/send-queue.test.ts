import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/raft/types.ts';
import { decodeBatch, encodeBatch, messageSize } from '../../src/transport/codec.ts';
import { MAX_HEARTBEATS_PER_FRAME } from '../../src/transport/heartbeats.ts';
import { SendQueue } from '../../src/transport/send-queue.ts';
import { bytesOf, message } from './fixtures.ts';

const hb = (i: number) => message(MessageType.Heartbeat, 'a', 'b', { commit: i });

describe('send queue', () => {
  it('refuses what would pass the message or byte bound, and nothing else', () => {
    const size = messageSize(hb(0));
    const q = new SendQueue({ maxMessages: 3, maxBytes: 10 * size });
    expect([q.push(hb(1), size), q.push(hb(2), size), q.push(hb(3), size), q.push(hb(4), size)]).toEqual([true, true, true, false]);
    expect([q.length, q.bytes]).toEqual([3, 3 * size]);

    const byBytes = new SendQueue({ maxMessages: 100, maxBytes: 2 * size + 1 });
    expect([byBytes.push(hb(1), size), byBytes.push(hb(2), size), byBytes.push(hb(3), size)]).toEqual([true, true, false]);
    byBytes.take(1 << 20);
    expect(byBytes.push(hb(4), size)).toBe(true); // room again once taken
  });

  it('takes batches in order whose frames fit the limit, one oversized message alone', () => {
    const q = new SendQueue({ maxMessages: 10_000, maxBytes: 1 << 30 });
    const big = message(MessageType.App, 'a', 'b', { entries: [{ term: 1, index: 1, type: 0, data: bytesOf(5000, 1) }] });
    const all = [hb(0), hb(1), big, ...Array.from({ length: 3000 }, (_, i) => hb(i + 2))];
    for (const m of all) q.push(m, messageSize(m));
    const out = [];
    for (let b = q.take(1000); b; b = q.take(1000)) {
      const frame = encodeBatch(b.messages, b.sizes);
      if (b.messages.length > 1) expect(frame.length).toBeLessThanOrEqual(1000);
      else expect(frame.length).toBeGreaterThan(0);
      out.push(...decodeBatch(frame));
    }
    expect(out.map((m) => m.commit)).toEqual(all.map((m) => m.commit));
    expect(out.filter((m) => m.entries.length === 1).length).toBe(1);
    expect([q.length, q.bytes]).toEqual([0, 0]);
  });

  it('holds heartbeats beside the batches, under the same bounds, and splits them at the frame limit', () => {
    const q = new SendQueue({ maxMessages: 5, maxBytes: 1 << 20 });
    expect(q.push(hb(1), messageSize(hb(1)), 7)).toBe(true);
    for (let i = 0; i < 4; i++) expect(q.pushHeartbeat(hb(i), 10, i + 100)).toBe(true);
    expect(q.pushHeartbeat(hb(9), 10, 9)).toBe(false); // 5 messages in all
    expect([q.length, q.batched, q.heartbeats, q.bytes]).toEqual([5, 1, 4, messageSize(hb(1)) + 40]);
    expect(q.take(1 << 20)!.groups).toEqual([7]);
    // A frame limit of header + count + two entries: two heartbeats, then the other two.
    expect(q.takeHeartbeats(2 + 3 + 20)!.groups).toEqual([100, 101]);
    expect(q.takeHeartbeats(1 << 20)!.groups).toEqual([102, 103]);
    expect([q.length, q.bytes, q.takeHeartbeats(1 << 20)]).toEqual([0, 0, undefined]);
  });

  it('puts at most MAX_HEARTBEATS_PER_FRAME heartbeats in one frame, whatever the byte limit', () => {
    const q = new SendQueue({ maxMessages: 200_000, maxBytes: 1 << 30 });
    const n = MAX_HEARTBEATS_PER_FRAME + 10;
    for (let i = 0; i < n; i++) q.pushHeartbeat(hb(i), 4, 1);
    expect(q.takeHeartbeats(1 << 30)!.messages.length).toBe(MAX_HEARTBEATS_PER_FRAME);
    expect(q.takeHeartbeats(1 << 30)!.messages.length).toBe(10);
  });

  it('clear discards and counts everything', () => {
    const q = new SendQueue({ maxMessages: 100, maxBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) q.push(hb(i), messageSize(hb(i)));
    q.take(40);
    const left = q.length;
    expect(q.clear()).toBe(left);
    expect([q.length, q.bytes, q.take(1000)]).toEqual([0, 0, undefined]);
  });
});
