/**
 * Peer links under failure, on real loopback sockets: restarts, dead and stalled peers (memory
 * must stay bounded while 100k messages are sent), keepalive, and a 20 MB chunked snapshot.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EntryType, type Message, MessageType } from '../../src/raft/types.ts';
import { message } from './fixtures.ts';
import { connectAll, connected, logged, startNode, stoppedAfterEach, type TestNode, waitFor } from './harness.ts';

const { cleanup, node } = stoppedAfterEach();

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** A port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

const KiB = 1024;
/** One shared 1 KiB entry: 100k messages would be ~100 MB on the wire if anything kept them. */
const payload = randomBytes(KiB);
const bulky = (i: number): Message =>
  message(MessageType.App, 'a', 'b', { index: i, entries: [{ term: 3, index: i + 1, type: EntryType.Normal, data: payload }] });

const limits = {
  maxQueueBytes: 512 * KiB,
  maxQueueMessages: 1000,
  maxBufferedBytes: 256 * KiB,
  maxBatchBytes: 64 * KiB,
};

function external(): number {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.external;
}

/**
 * Sends 100k ~1 KiB messages in batches of 1000, one event-loop turn each (as a Ready loop
 * would), and returns the largest growth of off-heap memory and of the link's own buffers seen.
 */
async function flood(a: TestNode): Promise<{ growth: number; maxQueued: number; maxBuffered: number }> {
  const base = external();
  let growth = 0;
  let maxQueued = 0;
  let maxBuffered = 0;
  for (let i = 0; i < 100_000; i += 1000) {
    const batch: Message[] = [];
    for (let j = i; j < i + 1000; j++) batch.push(bulky(j));
    a.transport.send(batch);
    await new Promise((r) => setImmediate(r));
    const s = a.transport.stats().b;
    maxQueued = Math.max(maxQueued, s.queuedBytes);
    maxBuffered = Math.max(maxBuffered, s.bufferedBytes);
    growth = Math.max(growth, external() - base);
  }
  return { growth, maxQueued, maxBuffered };
}

describe('reconnect', () => {
  it('follows a peer that restarted on a new port (setPeers update)', async () => {
    const a = await node('a', { backoff: { minMs: 20, maxMs: 100 } });
    const b1 = await startNode('b');
    connectAll([a, b1]);
    await waitFor(() => connected(a, 'b'), 'link to b1');
    await b1.stop();
    await waitFor(() => !connected(a, 'b'), 'link down');
    await waitFor(() => a.unreachable.includes('b'), 'unreachable reported');
    const b2 = await node('b');
    expect(b2.port).not.toBe(b1.port);
    connectAll([a, b2]);
    await waitFor(() => connected(a, 'b'), 'link to b2');
    a.transport.send([message(MessageType.Heartbeat, 'a', 'b', { commit: 5 })]);
    await waitFor(() => b2.received.length === 1, 'delivered to b2');
  });

  it('redials a peer that restarted on the same port, with backoff', async () => {
    const a = await node('a', { backoff: { minMs: 20, maxMs: 80 } });
    const b1 = await startNode('b');
    connectAll([a, b1]);
    await waitFor(() => connected(a, 'b'), 'link up');
    await b1.stop();
    await waitFor(() => !connected(a, 'b'), 'link down');
    // While b is down, messages are dropped and counted, not queued.
    a.transport.send([message(MessageType.Heartbeat, 'a', 'b'), message(MessageType.App, 'a', 'b')]);
    expect(a.transport.stats().b).toMatchObject({ queuedBytes: 0, queuedMessages: 0 });
    expect(a.transport.stats().b.dropped).toBeGreaterThanOrEqual(2);
    await sleep(300); // several failed dials
    const b2 = await node('b', { port: b1.port });
    b2.transport.setPeers([{ id: 'a', url: a.url }]);
    await waitFor(() => connected(a, 'b'), 'redialled', 2000);
    a.transport.send([message(MessageType.Heartbeat, 'a', 'b', { commit: 6 })]);
    await waitFor(() => b2.received.length === 1, 'delivered after restart');
  });

  it('stops redialling once closed', async () => {
    let dials = 0;
    const server = createServer((s) => {
      dials++;
      s.destroy();
    });
    const port = await listen(server);
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    const a = await startNode('a', { backoff: { minMs: 10, maxMs: 20 } });
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${port}/raft/v1` }]);
    await waitFor(() => dials >= 3, 'redials');
    await a.stop();
    const after = dials;
    await sleep(100);
    expect(dials).toBe(after);
    expect(a.transport.stats()).toEqual({});
  });
});

describe('dead and stalled peers cost bounded memory', () => {
  it('nothing listening: 100k messages are dropped, nothing accumulates', async () => {
    const a = await node('a', { ...limits });
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${await deadPort()}/raft/v1` }]);
    const r = await flood(a);
    const s = a.transport.stats().b;
    expect(s.state).not.toBe('connected');
    expect(s).toMatchObject({ sent: 0, dropped: 100_000, queuedBytes: 0, bufferedBytes: 0 });
    expect(r.growth).toBeLessThan(16 * 1024 * KiB);
  });

  it('a TCP server that accepts but never answers: handshake times out, redials, memory bounded', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      s.pause();
      sockets.push(s);
    });
    const port = await listen(server);
    cleanup.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    });
    const a = await node('a', { ...limits, handshakeTimeoutMs: 150, backoff: { minMs: 10, maxMs: 20 } });
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${port}/raft/v1` }]);
    const r = await flood(a);
    await waitFor(() => sockets.length >= 2, 'a redial after the handshake timeout');
    expect(logged(a, 'peer handshake timed out')).toBeDefined();
    const s = a.transport.stats().b;
    expect(s).toMatchObject({ state: 'connecting', sent: 0, dropped: 100_000, queuedBytes: 0 });
    expect(r.growth).toBeLessThan(16 * 1024 * KiB);
  });

  it('a peer that stops reading after the handshake: queue and socket buffer stay bounded, then drain', async () => {
    const b = await node('b');
    const a = await node('a', { ...limits, pingIntervalMs: 60_000 });
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && b.app.websocketServer.clients.size === 1, 'link up');
    // Stall b: its side of the TCP connection stops reading, so the kernel buffers fill up.
    const [serverSide] = [...b.app.websocketServer.clients];
    const tcp = (serverSide as unknown as { _socket: Socket })._socket;
    tcp.pause();
    const r = await flood(a);
    const s = a.transport.stats().b;
    expect(s.state).toBe('connected');
    expect(r.maxQueued).toBeLessThanOrEqual(limits.maxQueueBytes);
    expect(r.maxBuffered).toBeLessThanOrEqual(limits.maxBufferedBytes + limits.maxBatchBytes + 16 * KiB);
    expect(s.dropped).toBeGreaterThan(50_000); // the kernel absorbs a few MB, the rest is dropped
    expect(s.sent + s.dropped + s.queuedMessages).toBe(100_000);
    expect(r.growth).toBeLessThan(16 * 1024 * KiB);
    // Unstalled, everything that was not dropped arrives, in order.
    tcp.resume();
    await waitFor(() => a.transport.stats().b.queuedMessages === 0, 'queue drained');
    const sent = a.transport.stats().b.sent;
    await waitFor(() => b.received.length === sent, 'delivered');
    const idx = b.received.map((m) => m.index);
    expect(idx.every((v, i) => i === 0 || v > idx[i - 1])).toBe(true);
  });

  it('a stalled peer that stops answering pings is disconnected and its buffers freed', async () => {
    const b = await node('b');
    const a = await node('a', { ...limits, pingIntervalMs: 100 });
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && b.app.websocketServer.clients.size === 1, 'link up');
    const [serverSide] = [...b.app.websocketServer.clients];
    (serverSide as unknown as { _socket: Socket })._socket.pause();
    for (let i = 0; i < 20; i++) {
      a.transport.send(Array.from({ length: 500 }, (_, j) => bulky(i * 500 + j)));
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => !connected(a, 'b'), 'stalled link closed', 2000);
    expect(logged(a, 'peer stopped answering pings')).toBeDefined();
    expect(a.unreachable).toContain('b');
    expect(a.transport.stats().b).toMatchObject({ queuedBytes: 0, queuedMessages: 0, bufferedBytes: 0 });
  });
});

describe('snapshots', () => {
  it('a 20 MB snapshot arrives intact in chunks, with heartbeats flowing meanwhile', async () => {
    const b = await node('b');
    const a = await node('a');
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && b.app.websocketServer.clients.size === 1, 'link up');
    let frames = 0;
    for (const c of b.app.websocketServer.clients) c.on('message', () => frames++);
    const data = randomBytes(20 * 1024 * KiB);
    const digest = createHash('sha256').update(data).digest('hex');
    const snap = message(MessageType.Snap, 'a', 'b', {
      snapshot: { meta: { index: 9000, term: 5, conf: { voters: ['a', 'b'], learners: [] } }, data },
    });
    a.transport.send([snap, message(MessageType.Heartbeat, 'a', 'b', { commit: 1 })]);
    const pump = setInterval(() => a.transport.send([message(MessageType.Heartbeat, 'a', 'b', { commit: 2 })]), 1);
    try {
      await waitFor(() => b.received.some((m) => m.type === MessageType.Snap), 'snapshot', 10_000);
    } finally {
      clearInterval(pump);
    }
    const got = b.received.find((m) => m.type === MessageType.Snap)!;
    expect(got.snapshot!.meta).toEqual(snap.snapshot!.meta);
    expect(got.snapshot!.data.length).toBe(data.length);
    expect(createHash('sha256').update(got.snapshot!.data).digest('hex')).toBe(digest);
    expect(frames).toBeGreaterThanOrEqual(21); // SnapBegin + 20 chunks of 1 MiB, plus heartbeats
    expect(b.received.findIndex((m) => m.type === MessageType.Heartbeat)).toBeLessThan(b.received.indexOf(got));
    await waitFor(() => a.snapshotStatus.length === 1, 'status');
    expect(a.snapshotStatus).toEqual([['b', true]]);
    expect(logged(b, 'snapshot received')).toBeDefined();
  });

  it('a transfer cut by a lost link is reported failed and freed on both ends', async () => {
    const b = await node('b');
    const a = await node('a', { maxBufferedBytes: 64 * KiB, snapshotChunkBytes: 64 * KiB });
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && b.app.websocketServer.clients.size === 1, 'link up');
    const [serverSide] = [...b.app.websocketServer.clients];
    const tcp = (serverSide as unknown as { _socket: Socket })._socket;
    const data = randomBytes(16 * 1024 * KiB);
    const snap = message(MessageType.Snap, 'a', 'b', {
      snapshot: { meta: { index: 10, term: 1, conf: { voters: ['a', 'b'], learners: [] } }, data },
    });
    a.transport.send([snap]);
    await waitFor(() => logged(b, 'receiving snapshot') !== undefined, 'transfer started');
    expect(a.transport.stats().b.snapshotPendingBytes).toBeGreaterThan(0);
    tcp.destroy();
    await waitFor(() => a.snapshotStatus.length === 1, 'status');
    expect(a.snapshotStatus).toEqual([['b', false]]);
    expect(a.transport.stats().b.snapshotPendingBytes).toBe(0);
    await waitFor(() => logged(b, 'incoming snapshot transfer dropped', { reason: 'connection closed' }) !== undefined, 'freed');
    expect(b.received.filter((m) => m.type === MessageType.Snap)).toEqual([]);
  });

  it('a snapshot for a peer whose link is down is reported failed at once', async () => {
    const a = await node('a');
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${await deadPort()}/raft/v1` }]);
    a.transport.send([
      message(MessageType.Snap, 'a', 'b', {
        snapshot: { meta: { index: 1, term: 1, conf: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array(10) },
      }),
    ]);
    expect(a.snapshotStatus).toEqual([]); // never re-entrantly from inside send
    await sleep(0);
    expect(a.snapshotStatus).toEqual([['b', false]]);
  });
});
