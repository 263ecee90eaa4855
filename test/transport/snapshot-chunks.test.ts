import { describe, expect, it, vi } from 'vitest';
import { MessageType } from '../../src/raft/types.ts';
import { Backoff, BackoffConfigError } from '../../src/transport/backoff.ts';
import { FrameKind, openFrame, readBatch, readSnapBegin, readSnapChunk } from '../../src/transport/codec.ts';
import { OutboundSnapshot, SnapshotAssembler, SnapshotSlots, SnapshotTransferError } from '../../src/transport/snapshot-chunks.ts';
import { bytesOf, message } from './fixtures.ts';

function snapMessage(size: number) {
  return message(MessageType.Snap, 'n1', 'n2', {
    snapshot: { meta: { index: 50, term: 4, conf: { voters: ['n1', 'n2'], learners: [] } }, data: bytesOf(size, 3) },
  });
}

function frames(t: OutboundSnapshot): Buffer[] {
  const out: Buffer[] = [];
  for (let f = t.nextFrame(); f; f = t.nextFrame()) out.push(f);
  return out;
}

function newAssembler(opts: { maxBytes?: number; timeoutMs?: number; slots?: SnapshotSlots } = {}) {
  const drops: string[] = [];
  const a = new SnapshotAssembler({
    maxBytes: opts.maxBytes ?? 1 << 20,
    slots: opts.slots ?? new SnapshotSlots(2),
    timeoutMs: opts.timeoutMs ?? 10_000,
    onDrop: (id, reason) => drops.push(`${id}:${reason}`),
  });
  return { a, drops };
}

/** Feeds frames to an assembler; returns the message it completed. */
function feed(a: SnapshotAssembler, fs: Buffer[]) {
  return feedGroup(a, fs)?.message;
}

/** Feeds frames to an assembler; returns what it completed, with its group. */
function feedGroup(a: SnapshotAssembler, fs: Buffer[]) {
  let done: ReturnType<SnapshotAssembler['chunk']>;
  for (const f of fs) {
    const { kind, body } = openFrame(f);
    if (kind === FrameKind.SnapBegin) a.begin(readSnapBegin(body));
    else done = a.chunk(readSnapChunk(body)) ?? done;
  }
  return done;
}

describe('snapshot chunking', () => {
  it('sends a small snapshot as one batch frame', () => {
    const t = new OutboundSnapshot(1, snapMessage(1000), 4096);
    const fs = frames(t);
    expect(fs.length).toBe(1);
    const { kind, body } = openFrame(fs[0]);
    expect(kind).toBe(FrameKind.Batch);
    expect(Array.from(readBatch(body).messages[0].snapshot!.data)).toEqual(Array.from(bytesOf(1000, 3)));
    expect(t.finished).toBe(true);
  });

  it('splits a large snapshot into a header and chunks that reassemble byte for byte', () => {
    const m = snapMessage(10_000);
    const t = new OutboundSnapshot(5, m, 4096);
    expect(t.pendingBytes).toBe(10_000);
    const fs = frames(t);
    expect(fs.map((f) => f[1])).toEqual([FrameKind.SnapBegin, FrameKind.SnapChunk, FrameKind.SnapChunk, FrameKind.SnapChunk]);
    expect(Math.max(...fs.map((f) => f.length))).toBeLessThan(4096 + 16);
    const { a } = newAssembler();
    const done = feed(a, fs)!;
    expect(done.snapshot!.meta).toEqual(m.snapshot!.meta);
    expect(Buffer.compare(Buffer.from(done.snapshot!.data), Buffer.from(m.snapshot!.data))).toBe(0);
    expect(a.heldBytes).toBe(0);
  });

  it('carries the group of the Snap message, small or chunked', () => {
    const small = frames(new OutboundSnapshot(1, snapMessage(1000), 4096, 300));
    expect(readBatch(openFrame(small[0]).body).groups).toEqual([300]);
    const { a } = newAssembler();
    const done = feedGroup(a, frames(new OutboundSnapshot(2, snapMessage(10_000), 4096, 70_000)))!;
    expect(done.group).toBe(70_000);
    expect(done.message.snapshot!.data.length).toBe(10_000);
  });

  it('a newer transfer replaces an unfinished one and frees it', () => {
    const { a, drops } = newAssembler();
    const old = frames(new OutboundSnapshot(1, snapMessage(10_000), 4096));
    expect(feed(a, old.slice(0, 2))).toBeUndefined();
    expect(a.heldBytes).toBe(10_000);
    const fresh = frames(new OutboundSnapshot(2, snapMessage(9_000), 4096));
    feed(a, fresh.slice(0, 1));
    expect(drops).toEqual(['1:superseded by transfer 2']);
    expect(a.heldBytes).toBe(9_000);
    // Late chunks of the dropped transfer are ignored; the new one still completes.
    expect(feed(a, old.slice(2))).toBeUndefined();
    expect(feed(a, fresh.slice(1))!.snapshot!.data.length).toBe(9_000);
  });

  it('an abandoned transfer times out and is freed', () => {
    // Fake timers: with real sleeps a loaded machine overshot the first one past the timeout.
    vi.useFakeTimers();
    try {
      const { a, drops } = newAssembler({ timeoutMs: 60 });
      const fs = frames(new OutboundSnapshot(3, snapMessage(10_000), 4096));
      feed(a, fs.slice(0, 2));
      vi.advanceTimersByTime(59);
      feed(a, fs.slice(2, 3)); // progress postpones the timeout
      vi.advanceTimersByTime(59);
      expect(drops).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(drops).toEqual(['3:timed out']);
      expect(a.heldBytes).toBe(0);
      expect(feed(a, fs.slice(3))).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a snapshot over the size limit without allocating, and chunks out of order', () => {
    const { a, drops } = newAssembler({ maxBytes: 5000 });
    feed(a, frames(new OutboundSnapshot(4, snapMessage(10_000), 4096)));
    expect(drops).toEqual(['4:snapshot of 10000 bytes exceeds the 5000-byte limit']);
    expect(a.heldBytes).toBe(0);

    const b = newAssembler().a;
    const fs = frames(new OutboundSnapshot(6, snapMessage(10_000), 4096));
    feed(b, fs.slice(0, 1));
    expect(() => feed(b, fs.slice(2, 3))).toThrow(SnapshotTransferError);
    expect(b.heldBytes).toBe(0);
  });

  it('shares a few transfer slots between connections: the excess is refused before allocating', () => {
    const slots = new SnapshotSlots(2);
    const [x, y, z] = [newAssembler({ slots }), newAssembler({ slots }), newAssembler({ slots })];
    const begin = (t: OutboundSnapshot) => frames(t).slice(0, 1);
    feed(x.a, begin(new OutboundSnapshot(1, snapMessage(10_000), 4096)));
    feed(y.a, begin(new OutboundSnapshot(2, snapMessage(10_000), 4096)));
    feed(z.a, begin(new OutboundSnapshot(3, snapMessage(10_000), 4096)));
    expect(slots.inUse).toBe(2);
    expect(z.drops).toEqual(['3:2 incoming snapshot transfers are already in progress']);
    expect(z.a.heldBytes).toBe(0);
    // A slot comes back when a transfer completes, is dropped, or its connection closes.
    const whole = frames(new OutboundSnapshot(4, snapMessage(10_000), 4096));
    x.a.dispose();
    expect(slots.inUse).toBe(1);
    expect(feed(z.a, whole)?.snapshot?.data.length).toBe(10_000);
    expect(slots.inUse).toBe(1);
    y.a.dispose();
    expect(slots.inUse).toBe(0);
  });

  it('dispose frees the transfer in progress', () => {
    const { a, drops } = newAssembler();
    feed(a, frames(new OutboundSnapshot(8, snapMessage(10_000), 4096)).slice(0, 2));
    a.dispose();
    expect(drops).toEqual(['8:connection closed']);
    expect(a.heldBytes).toBe(0);
  });
});

describe('backoff', () => {
  it('doubles up to the cap, jitters within [d/2, d], and resets', () => {
    const lo = new Backoff({ minMs: 100, maxMs: 1000 }, () => 0);
    expect([lo.next(), lo.next(), lo.next(), lo.next(), lo.next(), lo.next()]).toEqual([50, 100, 200, 400, 500, 500]);
    lo.reset();
    expect(lo.next()).toBe(50);
    const hi = new Backoff({ minMs: 100, maxMs: 1000 }, () => 0.999999);
    expect(hi.next()).toBeCloseTo(100, 3);
    expect(() => new Backoff({ minMs: 0, maxMs: 10 }, Math.random)).toThrow(BackoffConfigError);
    expect(() => new Backoff({ minMs: 10, maxMs: 5 }, Math.random)).toThrow(BackoffConfigError);
  });
});
