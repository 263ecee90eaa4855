/**
 * Forward frames (the follower proxy's forwarded commands and replies) on real loopback links:
 * they travel only between authenticated members, arrive whole and tagged with the sender, are
 * refused before the handshake like Raft traffic, and are never queued: a frame that cannot
 * leave now (link down, over maxPayload, socket over budget) is reported as not sent. The
 * proxy's own messages decode back to what was encoded and refuse malformed bodies.
 */
import { describe, expect, it } from 'vitest';
import { decodeForward, encodeReply, encodeRequest, ForwardStatus } from '../../src/resp/proxy/wire.ts';
import { CodecError } from '../../src/transport/bytes.ts';
import { encodeForward } from '../../src/transport/codec.ts';
import { CloseCode } from '../../src/transport/index.ts';
import { connectAll, connected, rawClient, stoppedAfterEach, waitFor } from './harness.ts';

const { cleanup, node } = stoppedAfterEach();

describe('Forward frames', () => {
  it('go from one member to another whole, tagged with the authenticated sender', async () => {
    const a = await node('a');
    const b = await node('b');
    const got: [string, Buffer][] = [];
    b.transport.onForward = (from, body) => got.push([from, Buffer.from(body)]);
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b'), 'a→b link');
    const body = Buffer.from('forwarded bytes \x00\xff');
    expect(a.transport.sendForward('b', body, 1024 * 1024)).toBe(true);
    await waitFor(() => got.length === 1, 'the frame');
    expect(got[0][0]).toBe('a');
    expect(got[0][1].equals(body)).toBe(true);
  });

  it('are not sent to an unknown peer, over maxPayload, or past the socket budget', async () => {
    const a = await node('a', { maxPayload: 64 * 1024, maxBatchBytes: 16 * 1024, snapshotChunkBytes: 8 * 1024 });
    const b = await node('b', { maxPayload: 64 * 1024, maxBatchBytes: 16 * 1024, snapshotChunkBytes: 8 * 1024 });
    expect(a.transport.sendForward('b', Buffer.alloc(10), 1024)).toBe(false);
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b'), 'a→b link');
    expect(a.transport.sendForward('nobody', Buffer.alloc(10), 1024)).toBe(false);
    expect(a.transport.sendForward('b', Buffer.alloc(64 * 1024), 1024 * 1024)).toBe(false);
    expect(a.transport.sendForward('b', Buffer.alloc(2048), 1024)).toBe(false);
    // `always` (the leader's replies) ignores the budget, never the frame limit.
    expect(a.transport.sendForward('b', Buffer.alloc(2048), 1024, true)).toBe(true);
  });

  it('are refused before the handshake, and never delivered', async () => {
    const b = await node('b', { isAllowedPeer: () => true });
    const got: unknown[] = [];
    b.transport.onForward = (from, body) => got.push([from, body]);
    const raw = await rawClient(b.url);
    cleanup.push(async () => {
      raw.ws.terminate();
    });
    raw.ws.send(encodeForward(Buffer.from('not yet')));
    expect(await raw.closed).toMatchObject({ code: CloseCode.NotAuthenticated });
    expect(got).toEqual([]);
  });
});

describe('the proxy messages', () => {
  it('round-trip a request with WATCHed versions (negative ones too) and a reply', () => {
    const req = {
      id: 7,
      resp: 3 as const,
      watchDirty: true,
      watches: [
        ['k\xff', 12],
        ['gone', -5],
      ] as [string, number][],
      commands: [[Buffer.from('MULTI')], [Buffer.from('SET'), Buffer.from('k'), Buffer.alloc(0)], [Buffer.from('EXEC')]],
    };
    const back = decodeForward(encodeRequest(req));
    expect(back).toEqual({ request: req });
    const rep = { id: 7, index: 2, status: ForwardStatus.Reply, bytes: Buffer.from('*1\r\n+OK\r\n') };
    expect(decodeForward(encodeReply(rep))).toEqual({ reply: rep });
  });

  it('refuse malformed bodies with a CodecError', () => {
    const good = encodeRequest({ id: 1, resp: 2, watchDirty: false, watches: [], commands: [[Buffer.from('GET'), Buffer.from('k')]] });
    for (let cut = 0; cut < good.length; cut++) expect(() => decodeForward(good.subarray(0, cut))).toThrow(CodecError);
    expect(() => decodeForward(Buffer.from([9, 1]))).toThrow(CodecError);
    expect(() => decodeForward(Buffer.concat([good, Buffer.from([0])]))).toThrow(CodecError);
    const badResp = Buffer.from(good);
    badResp[2] = 4;
    expect(() => decodeForward(badResp)).toThrow(CodecError);
    // A command count far beyond the body is refused before anything is allocated for it.
    expect(() => decodeForward(Buffer.from([1, 1, 2, 0, 0, 0xff, 0xff, 0xff, 0x7f]))).toThrow(CodecError);
    expect(() => decodeForward(encodeReply({ id: 1, index: 0, status: 5 as ForwardStatus, bytes: Buffer.alloc(0) }))).toThrow(CodecError);
  });
});
