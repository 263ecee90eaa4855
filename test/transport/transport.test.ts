/**
 * Peer links on real loopback sockets: delivery of every message type, batching, the mutual
 * handshake and its refusals, and hostile peers.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { MessageType } from '../../src/raft/types.ts';
import { encodeBatch, encodeMessage, FrameKind, messageSize } from '../../src/transport/codec.ts';
import { encodeServerHello, encodeWelcome, newNonce } from '../../src/transport/handshake.ts';
import { CloseCode, PEER_PATH, Transport, TransportConfigError } from '../../src/transport/index.ts';
import { truncateUtf8 } from '../../src/transport/socket.ts';
import { everyWireMessage, message, plain } from './fixtures.ts';
import {
  CLUSTER,
  captureLogger,
  connectAll,
  connected,
  type LogLine,
  logged,
  rawClient,
  SECRET,
  type startNode,
  stoppedAfterEach,
  type TestNode,
  waitFor,
} from './harness.ts';

const { cleanup, node } = stoppedAfterEach();

describe('delivery', () => {
  it('delivers every message type, both ways, in order and intact', async () => {
    const [a, b] = [await node('a'), await node('b')];
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && connected(b, 'a'), 'links up');
    const ab = everyWireMessage('a', 'b');
    const ba = everyWireMessage('b', 'a');
    a.transport.send(ab);
    b.transport.send(ba);
    await waitFor(() => b.received.length === ab.length && a.received.length === ba.length, 'all messages');
    // Ordinary messages keep their order; a Snap travels on the snapshot path and may be
    // overtaken by messages sent after it (Raft does not need them ordered).
    const isSnap = (m: { type: string }) => m.type === MessageType.Snap;
    for (const [got, sent] of [
      [b.received, ab],
      [a.received, ba],
    ]) {
      expect(got.filter((m) => !isSnap(m)).map(plain)).toEqual(sent.filter((m) => !isSnap(m)).map(plain));
      expect(got.filter(isSnap).map(plain)).toEqual(sent.filter(isSnap).map(plain));
    }
    expect(a.transport.stats().b).toMatchObject({ state: 'connected', sent: ab.length, dropped: 0, queuedBytes: 0 });
    expect(a.snapshotStatus).toEqual([['b', true]]);
  });

  it('writes the messages of one event-loop turn as a few batch frames', async () => {
    const [a, b] = [await node('a'), await node('b')];
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && b.app.websocketServer.clients.size === 1, 'link up');
    let frames = 0;
    for (const c of b.app.websocketServer.clients) c.on('message', () => frames++);
    const msgs = Array.from({ length: 2000 }, (_, i) => message(MessageType.Heartbeat, 'a', 'b', { commit: i }));
    for (let i = 0; i < msgs.length; i += 100) a.transport.send(msgs.slice(i, i + 100));
    await waitFor(() => b.received.length === msgs.length, 'all heartbeats');
    expect(b.received.map((m) => m.commit)).toEqual(msgs.map((m) => m.commit));
    expect(frames).toBeLessThanOrEqual(2);
  });

  it('drops messages for unknown peers and while a link is down, and reports them', async () => {
    const a = await node('a');
    a.transport.setPeers([{ id: 'b', url: 'ws://127.0.0.1:1/raft/v1' }]);
    a.transport.send([message(MessageType.Heartbeat, 'a', 'b'), message(MessageType.Heartbeat, 'a', 'zz')]);
    expect(a.unreachable).toEqual([]); // reported after send returns, never re-entrantly
    await sleep(0);
    expect(a.unreachable.sort()).toEqual(['b', 'zz']);
    expect(a.transport.stats().b).toMatchObject({ dropped: 1, sent: 0 });
  });

  it('validates its configuration, and skips a bad peer with a warning rather than throw', async () => {
    const logs: LogLine[] = [];
    const base = { nodeId: 'a', clusterId: CLUSTER, secret: SECRET, logger: captureLogger(logs), onMessage: () => {} };
    expect(() => new Transport({ ...base, secret: '' })).toThrow(TransportConfigError);
    expect(() => new Transport({ ...base, maxPayload: 1024 * 1024 })).toThrow(TransportConfigError);
    expect(() => new Transport({ ...base, maxQueueBytes: 0 })).toThrow(TransportConfigError);
    const t = new Transport(base);
    // setPeers runs when a membership change is applied: one bad address must not stop the node.
    t.setPeers([
      { id: 'b', url: 'http://127.0.0.1:1/' },
      { id: 'c', url: 'nonsense' },
      { id: 'd', url: 'ws://a b:1/raft/v1' },
      { id: 'e', url: 'ws://127.0.0.1:1/raft/v1' },
      { id: 'e', url: 'ws://127.0.0.1:2/raft/v1' },
    ]);
    expect(Object.keys(t.stats())).toEqual(['e']);
    expect(logs.filter((l) => l.msg.startsWith('peer skipped')).map((l) => l.peer)).toEqual(['b', 'c', 'd', 'e']);
    await t.close();
  });
});

describe('handshake', () => {
  it.each([
    ['a wrong secret', { secret: 'not-the-secret' }, CloseCode.AuthFailed],
    ['a wrong cluster id', { clusterId: 'other-cluster' }, CloseCode.ClusterMismatch],
    ['an unknown node id', { nodeId: 'intruder' }, CloseCode.UnknownPeer],
  ] as const)('refuses %s with its close code and delivers nothing', async (_, override, code) => {
    const b = await node('b', { isAllowedPeer: (id) => id === 'a' });
    const logs: LogLine[] = [];
    const evil = new Transport({
      nodeId: 'a',
      clusterId: CLUSTER,
      secret: SECRET,
      logger: captureLogger(logs),
      onMessage: () => {},
      backoff: { minMs: 20, maxMs: 50 },
      ...override,
    });
    cleanup.push(() => evil.close());
    evil.setPeers([{ id: 'b', url: b.url }]);
    const from = 'nodeId' in override ? override.nodeId : 'a';
    const deadline = Date.now() + 400;
    while (Date.now() < deadline) {
      evil.send([message(MessageType.App, from, 'b'), message(MessageType.Vote, from, 'b')]);
      await sleep(10);
    }
    expect(b.received).toEqual([]);
    expect(evil.stats().b.state).not.toBe('connected');
    expect(evil.stats().b.sent).toBe(0);
    expect(logs.find((l) => l.msg === 'peer refused the link')).toMatchObject({ code });
    expect(logged(b, 'peer connection refused', { code })).toBeDefined();
    // The raw view: the socket really is closed with that code.
    const raw = await rawClient(b.url);
    await raw.authenticate('nodeId' in override ? override.nodeId : 'a', {
      secret: 'secret' in override ? override.secret : SECRET,
      clusterId: 'clusterId' in override ? override.clusterId : CLUSTER,
    });
    expect((await raw.closed).code).toBe(code);
  });

  it('survives ids that make the close reason long and multi-byte', async () => {
    const b = await node('b', { isAllowedPeer: () => true });
    const hostileId = `x${'é'.repeat(200)}${'😈'.repeat(100)}`; // the odd prefix puts a byte cut mid-character
    const raw = await rawClient(b.url);
    await raw.authenticate('x', { clusterId: hostileId });
    const { code, reason } = await raw.closed;
    expect(code).toBe(CloseCode.ClusterMismatch);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(reason.startsWith(`cluster ID mismatch: b is in cluster ${CLUSTER}, x in cluster xéé`)).toBe(true);
    expect(logged(b, 'peer connection refused', { code: CloseCode.ClusterMismatch })).toBeDefined();
  });

  it('truncates close reasons between characters', () => {
    expect(truncateUtf8('abc', 123)).toBe('abc');
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('a😈b', 4)).toBe('a');
    expect(truncateUtf8('a😈b', 5)).toBe('a😈');
    const long = 'é'.repeat(100);
    expect(Buffer.byteLength(truncateUtf8(long, 123))).toBe(122);
  });

  it('refuses a client speaking another protocol version', async () => {
    const b = await node('b', { isAllowedPeer: () => true });
    const raw = await rawClient(b.url);
    raw.ws.send(Buffer.from([9, FrameKind.ClientHello, 0, 0]));
    expect(await raw.closed).toMatchObject({ code: CloseCode.VersionMismatch });
  });

  it('refuses Raft traffic sent before the handshake', async () => {
    const b = await node('b', { isAllowedPeer: () => true });
    const raw = await rawClient(b.url);
    const m = message(MessageType.App, 'a', 'b');
    raw.ws.send(encodeBatch([m], [messageSize(m)]));
    expect(await raw.closed).toMatchObject({ code: CloseCode.NotAuthenticated });
    expect(b.received).toEqual([]);
  });

  it('closes a connection that never completes the handshake', async () => {
    const b = await node('b', { handshakeTimeoutMs: 100 });
    const raw = await rawClient(b.url);
    expect(await raw.closed).toMatchObject({ code: CloseCode.HandshakeTimeout });
  });

  it('never sends Raft messages to a server that cannot prove the secret', async () => {
    const got: Buffer[] = [];
    const impostor = new WebSocketServer({ host: '127.0.0.1', port: 0, path: PEER_PATH });
    cleanup.push(() => new Promise((r) => impostor.close(() => r())));
    impostor.on('connection', (ws) => {
      ws.on('message', (data) => {
        got.push(data as Buffer);
        // Answer the hello with a welcome as node "b", but with a made-up proof.
        ws.send(encodeWelcome({ nodeId: 'b', proof: randomBytes(32) }));
      });
      ws.send(encodeServerHello(newNonce()));
    });
    await new Promise((r) => impostor.once('listening', r));
    const port = (impostor.address() as AddressInfo).port;
    const a = await node('a');
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${port}${PEER_PATH}` }]);
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) {
      a.transport.send([message(MessageType.App, 'a', 'b', { entries: [] })]);
      await sleep(5);
    }
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((f) => f[1] === FrameKind.ClientHello)).toBe(true);
    expect(a.logs.find((l) => l.msg === 'peer failed the handshake')).toMatchObject({ code: CloseCode.AuthFailed });
    expect(a.transport.stats().b.sent).toBe(0);
  });

  it('refuses a server frame over the handshake limit from its header, and never links', async () => {
    const impostor = new WebSocketServer({ host: '127.0.0.1', port: 0, path: PEER_PATH });
    cleanup.push(() => new Promise((r) => impostor.close(() => r())));
    const closes: number[] = [];
    impostor.on('connection', (ws) => {
      ws.on('close', (code) => closes.push(code));
      ws.send(Buffer.alloc(8 * 1024 * 1024, 1)); // instead of a server hello
    });
    await new Promise((r) => impostor.once('listening', r));
    const a = await node('a');
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${(impostor.address() as AddressInfo).port}${PEER_PATH}` }]);
    await waitFor(() => closes.length >= 2, 'two refused dials');
    expect(closes.every((c) => c === CloseCode.MessageTooBig)).toBe(true);
    expect(a.transport.stats().b.state).not.toBe('connected');
  });

  it('refuses to link to a node other than the one it dialled', async () => {
    const c = await node('c', { isAllowedPeer: () => true });
    const a = await node('a');
    a.transport.setPeers([{ id: 'b', url: c.url }]); // misconfigured: that address is c
    await waitFor(() => logged(a, 'peer failed the handshake', { code: CloseCode.UnknownPeer }) !== undefined, 'refusal');
    expect(a.transport.stats().b.state).not.toBe('connected');
  });
});

describe('hostile and broken peers', () => {
  async function goodPairWithVictim(opts: Parameters<typeof startNode>[1] = {}) {
    const b = await node('b', { isAllowedPeer: (id) => id === 'a' || id === 'c', ...opts });
    const a = await node('a');
    a.transport.setPeers([{ id: 'b', url: b.url }]);
    await waitFor(() => connected(a, 'b'), 'good link up');
    return { a, b };
  }

  /** The good peer still delivers after the attack. */
  async function goodPeerStillWorks(a: TestNode, b: TestNode) {
    const before = b.received.length;
    a.transport.send([message(MessageType.Heartbeat, 'a', 'b', { commit: 4242 })]);
    await waitFor(() => b.received.length === before + 1, 'good message');
    expect(b.received.at(-1)).toMatchObject({ from: 'a', commit: 4242 });
    expect(connected(a, 'b')).toBe(true);
  }

  it.each([
    ['a text frame', CloseCode.UnsupportedData, (ws: import('ws').WebSocket) => ws.send('hello')],
    ['random bytes', CloseCode.ProtocolError, (ws: import('ws').WebSocket) => ws.send(Buffer.from([1, 17, 0xff, 0xff, 0xff]))],
    ['an unexpected frame kind', CloseCode.ProtocolError, (ws: import('ws').WebSocket) => ws.send(encodeServerHello(newNonce()))],
    ['a lone message frame', CloseCode.ProtocolError, (ws: import('ws').WebSocket) => ws.send(encodeMessage(message(MessageType.App, 'c', 'b')))],
    [
      'a message claiming another sender',
      CloseCode.ProtocolError,
      (ws: import('ws').WebSocket) => {
        const ms = [message(MessageType.Heartbeat, 'c', 'b'), message(MessageType.App, 'a', 'b')];
        ws.send(encodeBatch(ms, ms.map(messageSize)));
      },
    ],
    [
      'a message for another node',
      CloseCode.ProtocolError,
      (ws: import('ws').WebSocket) => {
        const m = message(MessageType.App, 'c', 'x');
        ws.send(encodeBatch([m], [messageSize(m)]));
      },
    ],
  ] as const)('disconnects an authenticated peer sending %s; others keep working', async (_, code, attack) => {
    const { a, b } = await goodPairWithVictim();
    const raw = await rawClient(b.url);
    await raw.authenticate('c');
    expect(raw.frames[1][1]).toBe(FrameKind.Welcome);
    attack(raw.ws);
    expect((await raw.closed).code).toBe(code);
    expect(logged(b, 'peer connection refused', { code, peer: 'c' })).toBeDefined();
    expect(b.received.filter((m) => m.from !== 'a')).toEqual([]);
    await goodPeerStillWorks(a, b);
  });

  it('disconnects a peer sending a frame beyond maxPayload', async () => {
    const { a, b } = await goodPairWithVictim({ maxPayload: 64 * 1024, snapshotChunkBytes: 16 * 1024, maxBatchBytes: 32 * 1024 });
    const raw = await rawClient(b.url);
    await raw.authenticate('c');
    raw.ws.send(Buffer.alloc(100 * 1024, 7));
    expect((await raw.closed).code).toBe(CloseCode.MessageTooBig);
    expect(b.logs.find((l) => l.msg === 'peer connection error')).toBeDefined();
    await goodPeerStillWorks(a, b);
  });

  it('survives a peer that sends garbage before speaking at all', async () => {
    const { a, b } = await goodPairWithVictim();
    for (const junk of [Buffer.alloc(0), randomBytes(3), randomBytes(500)]) {
      const raw = await rawClient(b.url);
      raw.ws.send(junk);
      const { code } = await raw.closed;
      expect([CloseCode.ProtocolError, CloseCode.VersionMismatch, CloseCode.NotAuthenticated]).toContain(code);
    }
    await goodPeerStillWorks(a, b);
  });

  it('a newer connection from the same peer replaces the older one', async () => {
    const { b } = await goodPairWithVictim();
    const first = await rawClient(b.url);
    await first.authenticate('c');
    const second = await rawClient(b.url);
    await second.authenticate('c');
    expect((await first.closed).code).toBe(CloseCode.Superseded);
    const m = message(MessageType.Heartbeat, 'c', 'b', { commit: 77 });
    second.ws.send(encodeBatch([m], [messageSize(m)]));
    await waitFor(() => b.received.some((r) => r.from === 'c'), 'message on the newer connection');
  });

  it('an onMessage that throws is logged and the link survives', async () => {
    let calls = 0;
    const b = await node('b', {
      onMessage: () => {
        calls++;
        throw new Error('core rejected it');
      },
    });
    const a = await node('a');
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b'), 'link up');
    a.transport.send([message(MessageType.App, 'a', 'b'), message(MessageType.App, 'a', 'b')]);
    await waitFor(() => calls === 2, 'both delivered');
    expect(logged(b, 'onMessage threw')).toBeDefined();
    expect(connected(a, 'b')).toBe(true);
  });

  it('closes the links of a node removed from the peers', async () => {
    const [a, b] = [await node('a'), await node('b')];
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && connected(b, 'a'), 'links up');
    b.transport.setPeers([]);
    expect(b.transport.stats()).toEqual({});
    await waitFor(() => logged(a, 'peer refused the link', { code: CloseCode.UnknownPeer }) !== undefined, 'refusal');
    a.transport.send([message(MessageType.App, 'a', 'b')]);
    await sleep(50);
    expect(b.received).toEqual([]);
  });
});
