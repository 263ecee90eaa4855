/**
 * The cap on messages per Batch frame, on real loopback links: a member's frame over
 * MAX_MESSAGES_PER_BATCH is a protocol error (the connection is closed with a reason saying so,
 * and counted), a frame at the cap is delivered whole, and a sender whose byte and queue limits
 * would allow more splits its batches at the cap instead of building a frame its peer refuses.
 */
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/raft/types.ts';
import { CodecError, decodeGroupBatch, encodeBatch, FrameKind, MAX_MESSAGES_PER_BATCH, messageSize } from '../../src/transport/codec.ts';
import { CloseCode } from '../../src/transport/index.ts';
import { SendQueue } from '../../src/transport/send-queue.ts';
import { message } from './fixtures.ts';
import { connectAll, connected, rawClient, stoppedAfterEach, waitFor } from './harness.ts';

const { node } = stoppedAfterEach();

/** `n` small messages from `from` to b, numbered by their commit index. */
const many = (n: number, from = 'c') => Array.from({ length: n }, (_, i) => message(MessageType.Heartbeat, from, 'b', { commit: i, logTerm: 0, index: 0 }));
const batchOf = (ms: ReturnType<typeof many>) => encodeBatch(ms, ms.map(messageSize));

describe('messages per Batch frame', () => {
  it('decoding refuses a frame over the cap before building its messages, and takes one at the cap', () => {
    expect(() => decodeGroupBatch(batchOf(many(MAX_MESSAGES_PER_BATCH + 1)))).toThrow(
      new CodecError('malformed', `${MAX_MESSAGES_PER_BATCH + 1} messages in one batch, at most ${MAX_MESSAGES_PER_BATCH}`),
    );
    expect(decodeGroupBatch(batchOf(many(MAX_MESSAGES_PER_BATCH))).messages.length).toBe(MAX_MESSAGES_PER_BATCH);
  });

  it('a member sending a frame over the cap loses its connection, with the reason, counted', async () => {
    const b = await node('b', { isAllowedPeer: (id) => id === 'c' });
    const raw = await rawClient(b.url);
    await raw.authenticate('c');
    raw.ws.send(batchOf(many(MAX_MESSAGES_PER_BATCH + 1)));
    const { code, reason } = await raw.closed;
    expect(code).toBe(CloseCode.ProtocolError);
    expect(reason).toBe(`undecodable frame: malformed: ${MAX_MESSAGES_PER_BATCH + 1} messages in one batch, at most ${MAX_MESSAGES_PER_BATCH}`);
    expect(b.received).toEqual([]);
    expect(b.transport.inboundStats()).toEqual({ protocolErrors: 1 });
  });

  it('a frame at the cap is delivered whole and the connection stays', async () => {
    const b = await node('b', { isAllowedPeer: (id) => id === 'c' });
    const raw = await rawClient(b.url);
    await raw.authenticate('c');
    raw.ws.send(batchOf(many(MAX_MESSAGES_PER_BATCH)));
    await waitFor(() => b.received.length === MAX_MESSAGES_PER_BATCH, 'the whole batch');
    expect(b.received.at(-1)!.commit).toBe(MAX_MESSAGES_PER_BATCH - 1);
    expect(raw.ws.readyState).toBe(raw.ws.OPEN);
    expect(b.transport.inboundStats()).toEqual({ protocolErrors: 0 });
  });

  it('the send queue hands out at most the cap per batch, whatever the byte limit', () => {
    const ms = many(MAX_MESSAGES_PER_BATCH + 10);
    const q = new SendQueue({ maxMessages: ms.length, maxBytes: 1 << 30 });
    for (const m of ms) expect(q.push(m, messageSize(m))).toBe(true);
    expect(q.take(1 << 30)!.messages.length).toBe(MAX_MESSAGES_PER_BATCH);
    expect(q.take(1 << 30)!.messages.map((m) => m.commit)).toEqual(ms.slice(MAX_MESSAGES_PER_BATCH).map((m) => m.commit));
  });

  it('a sender whose limits allow more splits at the cap, and its peer takes every frame', async () => {
    // Queue and batch bytes large enough that only the cap splits the batch.
    const opts = { maxQueueMessages: MAX_MESSAGES_PER_BATCH + 100, maxQueueBytes: 64 << 20, maxBatchBytes: 16 << 20, coalesceHeartbeats: false };
    const [a, b] = [await node('a', opts), await node('b', opts)];
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && connected(b, 'a'), 'links up');
    const sizes: number[] = [];
    for (const c of b.app.websocketServer.clients) {
      c.on('message', (d: Buffer) => {
        if (d[1] === FrameKind.Batch) sizes.push(decodeGroupBatch(d).messages.length);
      });
    }
    const ms = many(MAX_MESSAGES_PER_BATCH + 100, 'a');
    a.transport.send(ms);
    await waitFor(() => b.received.length === ms.length, 'every message', 20_000);
    expect(sizes).toEqual([MAX_MESSAGES_PER_BATCH, 100]);
    expect(b.transport.inboundStats()).toEqual({ protocolErrors: 0 });
    expect(a.transport.stats().b).toMatchObject({ sent: ms.length, dropped: 0 });
  });
});
