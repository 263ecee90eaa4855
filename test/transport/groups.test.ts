/**
 * Many Raft groups over one link per node pair (issue 13, mux), on real loopback sockets:
 * per-group delivery, messages for a group the node does not host dropped and counted, a peer
 * of another protocol version refused, and coalesced heartbeats delivering exactly what the
 * uncoalesced batches deliver, in one frame per turn.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { type Message, MessageType, type NodeId } from '../../src/raft/types.ts';
import { encodeBatch, FrameKind, messageSize } from '../../src/transport/codec.ts';
import { clientProof, decodeServerHello, encodeClientHello, encodeServerHello, newNonce } from '../../src/transport/handshake.ts';
import { CloseCode, GroupConfigError, type GroupEndpoint, PEER_PATH } from '../../src/transport/index.ts';
import { bytesOf, everyWireMessage, idleHeartbeats, message, plain } from './fixtures.ts';
import { CLUSTER, connectAll, connected, logged, rawClient, SECRET, stoppedAfterEach, type TestNode, waitFor } from './harness.ts';

const { cleanup, node } = stoppedAfterEach();

interface Hosted {
  endpoint: GroupEndpoint;
  received: Message[];
  unreachable: NodeId[];
  snapshotStatus: [NodeId, boolean][];
}

/** Hosts `ids` on `n`'s transport (group 1 is the harness's own, `n.received`). */
function host(n: TestNode, ids: number[]): Map<number, Hosted> {
  const out = new Map<number, Hosted>();
  for (const id of ids) {
    const h: Hosted = { received: [], unreachable: [], snapshotStatus: [], endpoint: undefined as unknown as GroupEndpoint };
    h.endpoint = n.transport.group(id, { onMessage: (m) => h.received.push(m) });
    h.endpoint.onUnreachable = (peer) => h.unreachable.push(peer);
    h.endpoint.onSnapshotStatus = (peer, ok) => h.snapshotStatus.push([peer, ok]);
    out.set(id, h);
  }
  return out;
}

async function linkedPair(opts: Parameters<typeof node>[1] = {}): Promise<[TestNode, TestNode]> {
  const [a, b] = [await node('a', opts), await node('b', opts)];
  connectAll([a, b]);
  await waitFor(() => connected(a, 'b') && connected(b, 'a'), 'links up');
  return [a, b];
}

/** Counts the WebSocket frames `n` receives on its inbound connections from now on. */
function frameCounter(n: TestNode): { kinds: number[] } {
  const seen = { kinds: [] as number[] };
  for (const c of n.app.websocketServer.clients) c.on('message', (d: Buffer) => seen.kinds.push(d[1]));
  return seen;
}

const snap = (from: NodeId, to: NodeId, size: number, seed: number) =>
  message(MessageType.Snap, from, to, {
    snapshot: { meta: { index: 100 + seed, term: 3, conf: { voters: [from, to], learners: [] } }, data: bytesOf(size, seed) },
  });

describe('one link, many groups', () => {
  it("delivers each group's messages to that group only, in order and intact, both ways", async () => {
    const [a, b] = await linkedPair();
    const ids = [2, 300, 70_000, 2 ** 32 - 1];
    const [ga, gb] = [host(a, ids), host(b, ids)];
    // Each group sends every wire type, its messages marked with its own commit index.
    const mark = (from: NodeId, to: NodeId, g: number) => everyWireMessage(from, to).map((m) => ({ ...m, commit: g }));
    for (const g of ids) {
      ga.get(g)!.endpoint.send(mark('a', 'b', g));
      gb.get(g)!.endpoint.send(mark('b', 'a', g));
    }
    a.transport.send(mark('a', 'b', 1));
    const n = everyWireMessage('a', 'b').length;
    await waitFor(() => ids.every((g) => gb.get(g)!.received.length === n && ga.get(g)!.received.length === n), 'all groups');
    await waitFor(() => b.received.length === n, 'group 1');
    // Ordinary messages keep their order; Snap travels on the snapshot path (transport.test.ts).
    const notSnap = (m: Message) => m.type !== MessageType.Snap;
    for (const g of ids) {
      expect(gb.get(g)!.received.filter(notSnap).map(plain)).toEqual(mark('a', 'b', g).filter(notSnap).map(plain));
      expect(ga.get(g)!.received.filter(notSnap).map(plain)).toEqual(mark('b', 'a', g).filter(notSnap).map(plain));
      expect(ga.get(g)!.snapshotStatus).toEqual([['b', true]]);
    }
    expect(b.received.every((m) => m.commit === 1)).toBe(true);
    expect(b.transport.groupStats()).toEqual({ hosted: 1 + ids.length, unhostedDropped: 0 });
  });

  it('sends the chunked snapshots of several groups to one peer one after another, each reported to its group', async () => {
    const [a, b] = await linkedPair({ snapshotChunkBytes: 16 * 1024 });
    const [ga, gb] = [host(a, [2, 3, 4]), host(b, [2, 3, 4])];
    ga.get(2)!.endpoint.send([snap('a', 'b', 100_000, 2)]);
    ga.get(3)!.endpoint.send([snap('a', 'b', 70_000, 3)]);
    ga.get(4)!.endpoint.send([snap('a', 'b', 50_000, 4)]);
    ga.get(4)!.endpoint.send([snap('a', 'b', 60_000, 5)]); // supersedes group 4's waiting one
    await waitFor(() => [2, 3, 4].every((g) => gb.get(g)!.received.length === 1), 'three snapshots');
    for (const [g, size, seed] of [
      [2, 100_000, 2],
      [3, 70_000, 3],
      [4, 60_000, 5],
    ]) {
      const got = gb.get(g)!.received[0];
      expect(Buffer.from(got.snapshot!.data).equals(Buffer.from(bytesOf(size, seed))), `group ${g}`).toBe(true);
      await waitFor(() => ga.get(g)!.snapshotStatus.length === 1, 'status');
      expect(ga.get(g)!.snapshotStatus).toEqual([['b', true]]);
    }
    expect(a.transport.stats().b).toMatchObject({ snapshotPendingBytes: 0, dropped: 1 });
  });

  it('drops and counts what arrives for a group the node does not host, and never creates one', async () => {
    const [a, b] = await linkedPair({ snapshotChunkBytes: 16 * 1024, isAllowedPeer: (id) => id !== 'x' });
    const ga = host(a, [5, 7]);
    const gb = host(b, [7]);
    gb.get(7)!.endpoint.close(); // no longer hosted: as if the replica had moved away
    const beat = idleHeartbeats('a', 'b', [5]).messages;
    for (const g of [5, 7]) {
      ga.get(g)!.endpoint.send([message(MessageType.App, 'a', 'b'), ...beat, snap('a', 'b', 40_000, g)]);
    }
    a.transport.send([message(MessageType.App, 'a', 'b', { commit: 4242 })]);
    await waitFor(() => b.transport.groupStats().unhostedDropped === 6, 'six drops');
    expect(b.received.map((m) => m.commit)).toEqual([4242]);
    expect(gb.get(7)!.received).toEqual([]);
    expect(logged(b, 'receiving snapshot')).toBeUndefined(); // refused at SnapBegin, before allocating
    expect(logged(b, 'message for a group this node does not host dropped', { group: 5 })).toBeDefined();

    // A member's hand-made frame for any group: counted, the link stays, nothing is created.
    const raw = await rawClient(b.url);
    await raw.authenticate('c');
    const ms = [message(MessageType.Vote, 'c', 'b'), message(MessageType.App, 'c', 'b', { commit: 99 })];
    raw.ws.send(encodeBatch(ms, ms.map(messageSize), [123_456, 1]));
    await waitFor(() => b.received.some((m) => m.commit === 99), 'the group-1 message of the same batch');
    expect(b.transport.groupStats()).toEqual({ hosted: 1, unhostedDropped: 7 });
    expect(raw.ws.readyState).toBe(raw.ws.OPEN);
    // Closing the endpoint freed the id: the node may host the group again.
    expect(b.transport.group(7, { onMessage: () => {} }).hosted).toBe(true);
  });

  it('tells every hosted group when a link falls, and only the sending group when its message is dropped', async () => {
    const [a, b] = await linkedPair();
    const ga = host(a, [2, 3]);
    ga.get(2)!.endpoint.send([message(MessageType.App, 'a', 'zz')]);
    await sleep(0);
    expect([ga.get(2)!.unreachable, ga.get(3)!.unreachable, a.unreachable]).toEqual([['zz'], [], []]);
    await b.stop();
    await waitFor(() => a.unreachable.includes('b') && [2, 3].every((g) => ga.get(g)!.unreachable.includes('b')), 'all told');
  });

  it('hosts no group when not given onMessage, until the caller asks for one', async () => {
    const b = await node('b', { onMessage: undefined });
    expect(b.transport.groupStats()).toEqual({ hosted: 0, unhostedDropped: 0 });
    const a = await node('a');
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b'), 'link up');
    a.transport.send([message(MessageType.App, 'a', 'b')]);
    await waitFor(() => b.transport.groupStats().unhostedDropped === 1, 'dropped');
    const got: Message[] = [];
    b.transport.group(1, { onMessage: (m) => got.push(m) });
    a.transport.send([message(MessageType.App, 'a', 'b', { commit: 5 })]);
    await waitFor(() => got.length === 1, 'delivered once hosted');
    expect(got[0].commit).toBe(5);
  });

  it('refuses invalid and duplicate group ids', async () => {
    const a = await node('a');
    for (const id of [-1, 1.5, 2 ** 32, Number.NaN, 1]) {
      expect(() => a.transport.group(id, { onMessage: () => {} }), String(id)).toThrow(GroupConfigError);
    }
    a.transport.group(0, { onMessage: () => {} });
    expect(() => a.transport.group(0, { onMessage: () => {} })).toThrow(/already hosted/);
  });
});

describe('protocol version', () => {
  it('refuses a client of another version with a close reason naming both versions', async () => {
    const b = await node('b', { isAllowedPeer: () => true });
    const raw = await rawClient(b.url);
    const { nonce } = decodeServerHello(raw.frames[0]);
    const hello = encodeClientHello({ clusterId: CLUSTER, nodeId: 'a', nonce: newNonce(), proof: clientProof(SECRET, nonce, CLUSTER, 'a') });
    hello[0] = 1; // what a node of the previous release sends
    raw.ws.send(hello);
    const closed = await raw.closed;
    expect(closed.code).toBe(CloseCode.VersionMismatch);
    expect(closed.reason).toBe('protocol version mismatch: peer speaks 1, this node 2; mixed versions cannot link, upgrade every node');
    expect(logged(b, 'peer connection refused', { code: CloseCode.VersionMismatch })).toBeDefined();
  });

  it('a dialling node refuses a server of another version, and says so', async () => {
    const old = new WebSocketServer({ host: '127.0.0.1', port: 0, path: PEER_PATH });
    cleanup.push(() => new Promise((r) => old.close(() => r())));
    const closes: [number, string][] = [];
    old.on('connection', (ws) => {
      ws.on('close', (code, reason) => closes.push([code, reason.toString()]));
      const hello = encodeServerHello(newNonce());
      hello[0] = 1;
      ws.send(hello);
    });
    await new Promise((r) => old.once('listening', r));
    const a = await node('a');
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${(old.address() as AddressInfo).port}${PEER_PATH}` }]);
    await waitFor(() => closes.length >= 1, 'refusal');
    expect(closes[0][0]).toBe(CloseCode.VersionMismatch);
    expect(closes[0][1]).toMatch(/^protocol version mismatch: peer speaks 1, this node 2/);
    expect(logged(a, 'peer failed the handshake', { code: CloseCode.VersionMismatch })).toBeDefined();
    expect(a.transport.stats().b.sent).toBe(0);
  });
});

describe('coalesced heartbeats', () => {
  const G = 200;
  const ids = Array.from({ length: G }, (_, i) => i + 2);

  /** Every group sends its idle heartbeat to b, each from its own microtask, in one turn. */
  async function tick(ga: Map<number, Hosted>, withContext: boolean) {
    const { messages } = idleHeartbeats('a', 'b', ids);
    if (!withContext) for (const m of messages) delete m.context;
    for (let i = 0; i < G; i++) {
      ga.get(ids[i])!.endpoint.send([messages[i]]);
      await Promise.resolve(); // a store's groups hand over their Readies in separate microtasks
    }
    return messages;
  }

  async function run(coalesceHeartbeats: boolean, withContext: boolean) {
    const [a, b] = await linkedPair({ coalesceHeartbeats });
    const [ga, gb] = [host(a, ids), host(b, ids)];
    const frames = frameCounter(b);
    const sent = await tick(ga, withContext);
    await waitFor(() => ids.every((g) => gb.get(g)!.received.length === 1), 'every group');
    const got = ids.map((g) => plain(gb.get(g)!.received[0]));
    const stats = a.transport.stats().b;
    return { got, sent: sent.map(plain), frames: frames.kinds, stats };
  }

  it('deliver exactly the messages the uncoalesced batches deliver', async () => {
    const on = await run(true, true);
    const off = await run(false, true);
    expect(on.got).toEqual(on.sent);
    expect(off.got).toEqual(off.sent);
    expect(on.got).toEqual(off.got);
    expect(on.frames.every((k) => k === FrameKind.Heartbeats)).toBe(true);
    expect(off.frames.every((k) => k === FrameKind.Batch)).toBe(true);
    expect(on.stats).toMatchObject({ heartbeatsCoalesced: G, sent: G, dropped: 0 });
  });

  it('wait for the end of the turn unless they carry a read round, which leaves at once', async () => {
    const [a] = await linkedPair();
    const [plainBeat, roundBeat] = idleHeartbeats('a', 'b', [1, 2]).messages.map((m) => ({ ...m, type: MessageType.Heartbeat }));
    delete plainBeat.context;
    expect(roundBeat.context).toBeDefined();
    const frames = () => a.transport.stats().b.heartbeatFrames;
    a.transport.send([plainBeat]);
    await Promise.resolve();
    await Promise.resolve();
    expect(frames()).toBe(0); // microtasks ran: still waiting for the turn's end
    await new Promise((r) => setImmediate(r));
    expect(frames()).toBe(1);
    a.transport.send([roundBeat]);
    await Promise.resolve();
    expect(frames()).toBe(2); // a read confirmation is not held for the turn
    // A waiting plain heartbeat leaves with the next urgent flush, in the same frame.
    a.transport.send([plainBeat]);
    a.transport.send([roundBeat]);
    await Promise.resolve();
    expect(a.transport.stats().b).toMatchObject({ heartbeatFrames: 3, heartbeatsCoalesced: 4 });
  });

  it("of all groups in one turn go out as one frame, where each group's own microtask flush made many", async () => {
    const on = await run(true, false);
    const off = await run(false, false);
    expect(on.got).toEqual(off.got);
    expect(on.frames).toEqual([FrameKind.Heartbeats]);
    expect(on.stats).toMatchObject({ heartbeatFrames: 1, heartbeatsCoalesced: G });
    expect(off.frames.length).toBeGreaterThan(G / 2);
  });
});
