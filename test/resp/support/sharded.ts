/**
 * A sharded cluster in one process, for the RESP routing layer: N real RaftNodes (LevelDB on
 * disk, each the single voter of its own group), each served by a real RESP server whose
 * `LayoutView` says the same thing: group g owns the g-th of N even slot ranges and is led by
 * node g, which hosts no other group. Every key therefore lives on exactly one node, so a test
 * can check that a client routed a key to the right group by reading that node's state machine.
 *
 * This is what layer "route" can build before the multi-group node exists: the groups are real,
 * but each process hosts one of them (replicas of a group on several nodes come with
 * src/node/store.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../../src/node/config.ts';
import { createLogger } from '../../../src/node/logger.ts';
import type { Member } from '../../../src/node/members.ts';
import { RaftNode } from '../../../src/node/raft-node.ts';
import { type GroupLayout, LayoutView } from '../../../src/resp/cluster/layout-view.ts';
import type { SlotRange } from '../../../src/resp/cluster/view.ts';
import { startRespServer } from '../../../src/resp/node-dispatcher.ts';
import type { RespServer } from '../../../src/resp/server.ts';
import { SLOT_COUNT } from '../../../src/resp/slot.ts';
import { freePort, waitFor } from '../../support/cluster-harness.ts';

export interface ShardedNode {
  readonly group: number;
  readonly member: Member;
  readonly node: RaftNode;
  readonly server: RespServer;
  readonly ranges: readonly SlotRange[];
}

/** N even ranges of the 16384 slots, as `--shards N` would lay them out. */
export function evenRanges(n: number): SlotRange[] {
  const out: SlotRange[] = [];
  for (let g = 0; g < n; g++) {
    out.push({ start: Math.floor((g * SLOT_COUNT) / n), end: Math.floor(((g + 1) * SLOT_COUNT) / n) - 1 });
  }
  return out;
}

export class ShardedServers {
  readonly nodes: ShardedNode[] = [];
  private readonly dirs: string[] = [];
  private readonly opened: RaftNode[] = [];

  /** Group (1-based) owning a slot. */
  groupOf(slot: number): ShardedNode {
    const n = this.nodes.find((x) => x.ranges.some((r) => slot >= r.start && slot <= r.end));
    if (n === undefined) throw new Error(`slot ${slot} is not assigned`);
    return n;
  }

  static async start(groups: number): Promise<ShardedServers> {
    const s = new ShardedServers();
    try {
      await s.boot(groups);
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  private async boot(groups: number): Promise<void> {
    const ranges = evenRanges(groups);
    const members: Member[] = [];
    for (let g = 1; g <= groups; g++) {
      members.push({ id: `n${g}`, host: '127.0.0.1', port: await freePort(), httpPort: await freePort() });
    }
    const nodes: RaftNode[] = [];
    for (const m of members) {
      const dir = mkdtempSync(join(tmpdir(), `raftkv-shard-${m.id}-`));
      this.dirs.push(dir);
      const cfg = resolveConfig({ id: m.id, 'data-dir': dir, port: String(m.port), 'http-port': String(m.httpPort), 'tick-ms': '10' }, {});
      const node = await RaftNode.open(cfg, createLogger('silent', m.id, false));
      this.opened.push(node);
      nodes.push(node);
    }
    for (let i = 0; i < groups; i++) {
      const self = members[i];
      const layout: GroupLayout<RaftNode>[] = members.map((m, j) => ({
        group: j + 1,
        ranges: [ranges[j]],
        replicas: [m],
        leader: m.id,
        configEpoch: 1,
        local: j === i ? nodes[i] : undefined,
      }));
      const view = new LayoutView({ self: self.id, epoch: 1, groups: layout });
      const server = await startRespServer(nodes[i], { view });
      this.nodes.push({ group: i + 1, member: self, node: nodes[i], server, ranges: [ranges[i]] });
      nodes[i].start();
    }
    for (const n of this.nodes) await waitFor(() => n.node.isLeader(), 10_000, `${n.member.id} to lead its group`);
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.server.close();
    for (const node of this.opened) await node.shutdown();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
