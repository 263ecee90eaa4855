/**
 * The transport's counters as a node exports them (src/node/metrics.ts), over real loopback
 * links: messages for a group this node does not host, peers' links closed for a protocol
 * error, the coalesced heartbeat frames per peer with the heartbeats they carried, messages,
 * frames and superseded messages per peer, and the frame bytes written per peer (what an idle group costs, docs/performance.md). The
 * cluster-level check (test/integration/metrics.test.ts) sees them only at their idle values.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeMetrics } from '../../src/node/metrics.ts';
import { EntryType, MessageType } from '../../src/raft/types.ts';
import { encodeBatch, MAX_MESSAGES_PER_BATCH, messageSize } from '../../src/transport/codec.ts';
import { GroupIds } from '../../src/transport/groups.ts';
import { encodeHeartbeats, heartbeatSize } from '../../src/transport/heartbeats.ts';
import { message } from './fixtures.ts';
import { connectAll, connected, rawClient, stoppedAfterEach, type TestNode, waitFor } from './harness.ts';

const { node, cleanup } = stoppedAfterEach();

/** NodeMetrics over `n`'s real transport; the rest of the node is idle stand-ins it also reads. */
function metricsOf(n: TestNode): NodeMetrics {
  const dataDir = mkdtempSync(join(tmpdir(), 'raftkv-metrics-'));
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  return new NodeMetrics({
    cfg: { dataDir },
    kv: { size: 0, usedMemory: () => 0 },
    appliedIndex: 0,
    status: () => ({ term: 1, commit: 0, leader: '' }),
    isLeader: () => false,
    proposalCounts: () => ({ pending: 0, failed: 0 }),
    transport: n.transport,
  });
}

async function sample(metrics: NodeMetrics, series: string): Promise<number | undefined> {
  for (const line of (await metrics.registry.metrics()).split('\n')) {
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) === series) return Number(line.slice(space + 1));
  }
  return undefined;
}

describe('transport metrics', () => {
  it('exports unhosted drops, protocol errors, and heartbeat frames, heartbeats and bytes per peer', async () => {
    const opts = { isAllowedPeer: (id: string) => id !== 'x' };
    const [a, b] = [await node('a', opts), await node('b', opts)];
    connectAll([a, b]);
    await waitFor(() => connected(a, 'b') && connected(b, 'a'), 'links up');
    const [ma, mb] = [metricsOf(a), metricsOf(b)];
    expect(await sample(mb, 'raftkv_network_unhosted_group_messages_dropped_total')).toBe(0);
    expect(await sample(mb, 'raftkv_network_peer_protocol_errors_total')).toBe(0);
    expect(await sample(ma, 'raftkv_network_peer_heartbeat_frames_sent_total{peer="b"}')).toBe(0);
    expect(await sample(ma, 'raftkv_network_peer_sent_bytes_total{peer="b"}')).toBe(0);

    // Three plain heartbeats in one turn: one coalesced frame carrying three.
    const beat = (commit: number) => message(MessageType.Heartbeat, 'a', 'b', { logTerm: 0, index: 0, commit });
    const beats = [beat(1), beat(2), beat(3)];
    a.transport.send(beats);
    await waitFor(() => b.received.length === 3, 'the heartbeats');
    expect(await sample(ma, 'raftkv_network_peer_heartbeat_frames_sent_total{peer="b"}')).toBe(1);
    expect(await sample(ma, 'raftkv_network_peer_heartbeats_coalesced_total{peer="b"}')).toBe(3);
    // Bytes: exactly that frame, then exactly it plus one batch frame holding one App.
    const g = GroupIds.Default;
    const beatsFrame = encodeHeartbeats(
      [g, g, g],
      beats,
      beats.map((m) => heartbeatSize(g, m)),
    ).length;
    expect(await sample(ma, 'raftkv_network_peer_sent_bytes_total{peer="b"}')).toBe(beatsFrame);
    const app = message(MessageType.App, 'a', 'b');
    a.transport.send([app]);
    await waitFor(() => b.received.length === 4, 'the App');
    expect(await sample(ma, 'raftkv_network_peer_sent_bytes_total{peer="b"}')).toBe(beatsFrame + encodeBatch([app], [messageSize(app)], [g]).length);
    // Messages and frames: four in two; then a commit-only App and the App that covers it, one frame of one.
    expect(await sample(ma, 'raftkv_network_peer_messages_sent_total{peer="b"}')).toBe(4);
    expect(await sample(ma, 'raftkv_network_peer_frames_sent_total{peer="b"}')).toBe(2);
    const covering = message(MessageType.App, 'a', 'b', { entries: [{ term: 3, index: 11, type: EntryType.Normal, data: new Uint8Array(4) }] });
    a.transport.send([app, covering]);
    await waitFor(() => b.received.length === 5, 'the covering App');
    expect(await sample(ma, 'raftkv_network_peer_messages_sent_total{peer="b"}')).toBe(5);
    expect(await sample(ma, 'raftkv_network_peer_frames_sent_total{peer="b"}')).toBe(3);
    expect(await sample(ma, 'raftkv_network_peer_messages_superseded_total{peer="b"}')).toBe(1);

    // A member's messages for groups b does not host, then a frame over the batch cap.
    const raw = await rawClient(b.url);
    await raw.authenticate('c');
    const ms = [message(MessageType.App, 'c', 'b'), message(MessageType.Vote, 'c', 'b')];
    raw.ws.send(encodeBatch(ms, ms.map(messageSize), [7, 8]));
    await waitFor(() => b.transport.groupStats().unhostedDropped === 2, 'two drops');
    expect(await sample(mb, 'raftkv_network_unhosted_group_messages_dropped_total')).toBe(2);
    const over = Array.from({ length: MAX_MESSAGES_PER_BATCH + 1 }, () => message(MessageType.Heartbeat, 'c', 'b'));
    raw.ws.send(encodeBatch(over, over.map(messageSize)));
    await raw.closed;
    expect(await sample(mb, 'raftkv_network_peer_protocol_errors_total')).toBe(1);
  });
});
