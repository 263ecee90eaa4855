/**
 * Cluster identity and removal on real loopback links (transport/handshake.ts): two ids refuse
 * each other naming both; a node without an id accepts a peer that has one and adopts it, but
 * only once the peer has authenticated; a removed member is told so after the server proved
 * itself, and a close code it could have forged before that is not believed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { MessageType } from '../../src/raft/types.ts';
import { encodeServerHello } from '../../src/transport/handshake.ts';
import { CloseCode } from '../../src/transport/index.ts';
import { message } from './fixtures.ts';
import { CLUSTER, connected, logged, rawClient, stoppedAfterEach, waitFor } from './harness.ts';

const { cleanup, node } = stoppedAfterEach();

describe('cluster id in the handshake', () => {
  it('two ids refuse each other with both named, each side warning once however often it redials', async () => {
    const a = await node('a', { clusterId: 'aaaa', isAllowedPeer: () => true });
    const b = await node('b', { clusterId: 'bbbb', isAllowedPeer: () => true });
    a.transport.setPeers([{ id: 'b', url: b.url }]);
    b.transport.setPeers([{ id: 'a', url: a.url }]);
    await waitFor(() => a.logs.filter((l) => l.msg === 'peer connection refused').length > 0, 'a refusal');
    await sleep(600); // several redials (backoff 20-200 ms)
    a.transport.send([message(MessageType.App, 'a', 'b')]);
    expect(b.received).toEqual([]);
    for (const [n, self, other] of [
      [a, 'aaaa', 'bbbb'],
      [b, 'bbbb', 'aaaa'],
    ] as const) {
      const refused = n.logs.filter((l) => l.msg === 'peer connection refused' && l.level >= 40);
      const refusedBy = n.logs.filter((l) => l.msg === 'peer refused the link' && l.level >= 40);
      expect(refused).toHaveLength(1);
      expect(refusedBy).toHaveLength(1);
      expect(refused[0].reason).toBe(`cluster ID mismatch: ${n.id} is in cluster ${self}, ${n.id === 'a' ? 'b' : 'a'} in cluster ${other}`);
    }
  });

  it('a node without an id takes one from an authenticated peer, and links both ways', async () => {
    const learned: [string, string][] = [];
    const joiner = await node('j', { clusterId: '', isAllowedPeer: () => true, learnClusterId: (id, from) => learned.push([id, from]) });
    const leader = await node('l', { isAllowedPeer: () => true });
    // A dialler without the secret is refused and teaches nothing.
    const raw = await rawClient(joiner.url);
    await raw.authenticate('l', { secret: 'wrong-secret-0123456789', clusterId: 'evil' });
    expect((await raw.closed).code).toBe(CloseCode.AuthFailed);
    expect(learned).toEqual([]);
    expect(joiner.transport.clusterId).toBe('');
    // Its own dial (with no id) is accepted by a node with one.
    joiner.transport.setPeers([{ id: 'l', url: leader.url }]);
    await waitFor(() => connected(joiner, 'l'), 'joiner linked to the leader');
    expect(learned).toEqual([]);
    leader.transport.setPeers([{ id: 'j', url: joiner.url }]);
    await waitFor(() => connected(leader, 'j'), 'leader linked to the joiner');
    expect(learned).toEqual([[CLUSTER, 'l']]);
    expect(joiner.transport.clusterId).toBe(CLUSTER);
    // From then on it presents the id, and refuses another cluster.
    const other = await rawClient(joiner.url);
    await other.authenticate('l', { clusterId: 'other' });
    expect(await other.closed).toMatchObject({ code: CloseCode.ClusterMismatch });
    expect(learned).toHaveLength(1);
  });
});

describe('a removed member', () => {
  it('is told so after the welcome, and its link reports it', async () => {
    const removed: string[] = [];
    const b = await node('b', { isAllowedPeer: () => false, wasRemoved: (id) => id === 'a' });
    const a = await node('a', { isAllowedPeer: () => true, onRemoved: (by) => removed.push(by) });
    a.transport.setPeers([{ id: 'b', url: b.url }]);
    await waitFor(() => removed.length > 0, 'the removal to be told');
    expect(removed[0]).toBe('b');
    expect(logged(b, 'told a removed member it was removed')).toBeDefined();
    expect(b.received).toEqual([]);
    // Anyone else is an unknown peer, as before.
    const raw = await rawClient(b.url);
    await raw.authenticate('c');
    expect((await raw.closed).code).toBe(CloseCode.UnknownPeer);
  });

  it('a Removed close before the server proved itself is not believed', async () => {
    const removed: string[] = [];
    const wss = new WebSocketServer({ port: 0, path: '/raft/v1' });
    cleanup.push(() => new Promise<void>((r) => wss.close(() => r())));
    wss.on('connection', (ws) => {
      ws.send(encodeServerHello(Buffer.alloc(32)));
      ws.on('message', () => ws.close(CloseCode.Removed, 'member a was removed from the cluster'));
    });
    await new Promise((r) => wss.once('listening', r));
    const a = await node('a', { isAllowedPeer: () => true, onRemoved: (by) => removed.push(by) });
    const port = (wss.address() as { port: number }).port;
    a.transport.setPeers([{ id: 'b', url: `ws://127.0.0.1:${port}/raft/v1` }]);
    await waitFor(() => a.logs.some((l) => l.msg === 'peer refused the link'), 'the forged close');
    expect(removed).toEqual([]);
  });
});
