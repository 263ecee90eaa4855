/**
 * What an unauthenticated or unknown party costs a node's peer port, on real loopback sockets:
 * frames over a few KiB are refused from their header before authentication, connections
 * still authenticating are capped (in total and per address), unknown node ids are refused and
 * logged once, and incoming snapshots share a few slots and a size bound.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/raft/types.ts';
import { encodeSnapBegin } from '../../src/transport/codec.ts';
import { CloseCode, TRANSPORT_DEFAULTS } from '../../src/transport/index.ts';
import { message } from './fixtures.ts';
import { connectAll, connected, logged, type RawClient, rawClient, stoppedAfterEach, type TestNode, upgradeRefusal, waitFor } from './harness.ts';

const { cleanup, node } = stoppedAfterEach();

async function raw(url: string, localAddress?: string): Promise<RawClient> {
  const c = await rawClient(url, { localAddress });
  cleanup.push(async () => {
    c.ws.terminate();
  });
  return c;
}

const MiB = 1024 * 1024;

/** The header of a masked binary frame announcing `length` payload bytes (RFC 6455 §5.2). */
function frameHeader(length: number): Buffer {
  const h = Buffer.alloc(14);
  h[0] = 0x82; // FIN, binary
  h[1] = 0x80 | 127; // masked, 64-bit length
  h.writeBigUInt64BE(BigInt(length), 2);
  h.writeUInt32BE(0x01020304, 10); // mask
  return h;
}

describe('before authentication', () => {
  it('refuses a frame over the pre-auth limit from its header alone, before any payload arrives', async () => {
    expect(TRANSPORT_DEFAULTS.maxPreAuthPayload).toBeLessThanOrEqual(4096);
    const b = await node('b');
    const c = await raw(b.url);
    // Announce 30 MiB and send none of it: the node must not wait for (or buffer) the payload.
    (c.ws as unknown as { _socket: Socket })._socket.write(frameHeader(30 * MiB));
    const { code } = await c.closed;
    expect(code).toBe(CloseCode.MessageTooBig);
    expect(logged(b, 'peer connection error')).toBeDefined();
  });

  it('takes a handshake-sized frame, and full-size frames once the peer authenticated', async () => {
    const b = await node('b', { isAllowedPeer: (id) => id === 'a' });
    const a = await node('a');
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b'), 'link up');
    // One 2 MiB App message: far over the pre-auth limit, within maxPayload.
    const big = message(MessageType.App, 'a', 'b', {
      entries: [{ term: 3, index: 11, type: 0, data: new Uint8Array(2 * MiB).fill(5) }],
    });
    a.transport.send([big]);
    await waitFor(() => b.received.length === 1, 'the large message');
    expect(b.received[0].entries[0].data.length).toBe(2 * MiB);
  });

  it('caps connections still authenticating per address and in total, at the upgrade (503)', async () => {
    const b = await node('b', { isAllowedPeer: (id) => id === 'a', maxUnauthenticated: 6, maxUnauthenticatedPerAddress: 2 });
    const held: RawClient[] = [];
    held.push(await raw(b.url, '127.0.0.1'), await raw(b.url, '127.0.0.1'));
    expect(await upgradeRefusal(b.url, { localAddress: '127.0.0.1' })).toBe(503);
    // Another address still gets in, until the total is reached.
    for (let i = 2; i <= 5; i++) held.push(await raw(b.url, `127.0.0.${i}`));
    expect(await upgradeRefusal(b.url, { localAddress: '127.0.0.9' })).toBe(503);
    // Even a real member is turned away while the slots are taken (the price of the cap)...
    const a = await node('a', { backoff: { minMs: 20, maxMs: 50 } });
    a.transport.setPeers([{ id: 'b', url: b.url }]);
    await sleep(200);
    expect(connected(a, 'b')).toBe(false);
    // ...and gets in as soon as they are freed: the handshake timeout frees them by itself.
    await held[0].authenticate('a');
    expect(held[0].frames.length).toBe(2); // welcomed: that slot is no longer unauthenticated
    for (const c of held.slice(1)) c.ws.terminate();
    await waitFor(() => connected(a, 'b'), 'the member links up once slots are free', 3000);
  });

  it('frees the slot of a connection that never authenticates when its handshake times out', async () => {
    const b = await node('b', { maxUnauthenticated: 1, maxUnauthenticatedPerAddress: 1, handshakeTimeoutMs: 200 });
    const c = await raw(b.url);
    expect(await upgradeRefusal(b.url)).toBe(503);
    expect((await c.closed).code).toBe(CloseCode.HandshakeTimeout);
    expect(await upgradeRefusal(b.url)).toBe(0);
  });
});

describe('unknown node ids', () => {
  it('are refused with UnknownPeer and logged once per id, even with the right secret', async () => {
    const b = await node('b', { isAllowedPeer: (id) => id === 'a' });
    for (let i = 0; i < 3; i++) {
      for (const id of ['intruder', 'n9']) {
        const c = await raw(b.url);
        await c.authenticate(id);
        expect((await c.closed).code).toBe(CloseCode.UnknownPeer);
      }
    }
    const warned = b.logs.filter((l) => l.msg === 'peer connection refused' && l.code === CloseCode.UnknownPeer);
    expect(warned.map((l) => l.level)).toEqual([40, 40, 20, 20, 20, 20]); // warn, warn, then debug
    expect(b.received).toEqual([]);
  });

  it('a node refused until it is added links up as soon as the node that added it dials it', async () => {
    let added = false;
    const b = await node('b', { isAllowedPeer: (id) => added && id === 'a' });
    // A long backoff, as a joining node reaches after a few seconds of refusals.
    const a = await node('a', { backoff: { minMs: 4000, maxMs: 4000 } });
    a.transport.setPeers([{ id: 'b', url: b.url }]);
    await waitFor(() => logged(a, 'peer refused the link', { code: CloseCode.UnknownPeer }) !== undefined, 'the first refusal');
    added = true;
    const t0 = Date.now();
    b.transport.setPeers([{ id: 'a', url: a.url }]);
    await waitFor(() => connected(a, 'b'), 'a to redial b once b dialled it', 2000);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('incoming snapshots', () => {
  async function authenticated(b: TestNode, id: string): Promise<RawClient> {
    const c = await raw(b.url);
    await c.authenticate(id);
    expect(c.frames.length).toBe(2);
    return c;
  }

  /** A SnapBegin announcing `totalBytes` (encodeSnapBegin reads only the data's length). */
  const begin = (from: string, transferId: number, totalBytes: number) =>
    encodeSnapBegin(transferId, {
      ...message(MessageType.Snap, from, 'b'),
      snapshot: { meta: { index: 100, term: 3, conf: { voters: ['b', from], learners: [] } }, data: { length: totalBytes } as Uint8Array },
    });

  it('share a few transfer slots: a third concurrent transfer is refused before allocating', async () => {
    const b = await node('b', { isAllowedPeer: () => true });
    for (const [i, id] of ['c', 'd', 'e'].entries()) (await authenticated(b, id)).ws.send(begin(id, i + 1, 64 * MiB));
    await waitFor(() => b.logs.filter((l) => l.msg === 'receiving snapshot').length === 3, 'three begins');
    await waitFor(() => logged(b, 'incoming snapshot transfer dropped') !== undefined, 'a refusal');
    expect(logged(b, 'incoming snapshot transfer dropped', { reason: '2 incoming snapshot transfers are already in progress' })).toBeDefined();
    expect(b.logs.filter((l) => l.msg === 'incoming snapshot transfer dropped').length).toBe(1);
  });

  it('declaring more than maxSnapshotBytes is refused before allocating', async () => {
    const b = await node('b', { isAllowedPeer: () => true, maxSnapshotBytes: 8 * MiB });
    (await authenticated(b, 'c')).ws.send(begin('c', 1, 3 * 1024 * MiB));
    await waitFor(() => logged(b, 'incoming snapshot transfer dropped') !== undefined, 'refusal');
    expect(logged(b, 'incoming snapshot transfer dropped')?.reason).toMatch(/exceeds the 8388608-byte limit/);
  });
});
