/**
 * The guard's answers over a many-group view, on a real node (LevelDB, Raft) served by a real
 * RESP server, whose view is switched between layouts (`CurrentView`, as a multi-group node will
 * do when the map or a leader changes): MOVED to another node's group, CLUSTERDOWN for a group
 * without a leader and for a slot no group owns, TRYAGAIN while a group is being split or
 * moved, READONLY reads served by a local replica of a group led elsewhere, SSUBSCRIBE on a
 * replica, and the CLUSTER replies following the view.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/node/config.ts';
import { createLogger } from '../../src/node/logger.ts';
import type { Member } from '../../src/node/members.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { CurrentView, type GroupLayout, LayoutView } from '../../src/resp/cluster/layout-view.ts';
import { clusterNodeId } from '../../src/resp/handlers/topology.ts';
import { startRespServer } from '../../src/resp/node-dispatcher.ts';
import type { RespServer } from '../../src/resp/server.ts';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { RawConn } from '../resp-node/support/resp-bytes.ts';
import { freePort, waitFor } from '../support/cluster-harness.ts';

let node: RaftNode;
let server: RespServer;
let conn: RawConn;
const dir = mkdtempSync(join(tmpdir(), 'raftkv-guard-'));
let self: Member;
const other: Member = { id: 'n2', host: '127.0.0.2', port: 7002, httpPort: 17002 };
let view: CurrentView<RaftNode>;

/** Group 1 (0-8191) and group 2 (8192-16383), both replicated here and on n2; `g2` overrides group 2. */
function layout(g2: Partial<GroupLayout<RaftNode>>, g1: Partial<GroupLayout<RaftNode>> = {}): LayoutView<RaftNode> {
  const base = (group: number, start: number, end: number): GroupLayout<RaftNode> => ({
    group,
    ranges: [{ start, end }],
    replicas: [self, other],
    leader: 'n1',
    configEpoch: 1,
    local: node,
  });
  return new LayoutView({
    self: 'n1',
    epoch: 2,
    groups: [
      { ...base(1, 0, 8191), ...g1 },
      { ...base(2, 8192, 16383), ...g2 },
    ],
  });
}

beforeAll(async () => {
  self = { id: 'n1', host: '127.0.0.1', port: await freePort(), httpPort: await freePort() };
  const cfg = resolveConfig({ 'data-dir': dir, port: String(self.port), 'http-port': String(self.httpPort), 'tick-ms': '10' }, {});
  node = await RaftNode.open(cfg, createLogger('silent', 'n1', false));
  view = new CurrentView(layout({}));
  server = await startRespServer(node, { view });
  node.start();
  await waitFor(() => node.isLeader(), 10_000, 'the node to lead');
  conn = await RawConn.open(self.port);
}, 30_000);

afterAll(async () => {
  conn?.close();
  await server?.close();
  await node?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (...a: string[]) => (await conn.call(...a)).toString();
// "a" is slot 15495 (group 2), "b" slot 3300 (group 1).
const A = keyHashSlot('a');

describe('the guard over a view of two groups', () => {
  it('serves both groups while this node leads them, and refuses keys of both in one command', async () => {
    view.current = layout({});
    expect(await call('set', 'a', '1')).toBe('+OK\r\n');
    expect(await call('set', 'b', '2')).toBe('+OK\r\n');
    expect(await call('mget', 'a', 'b')).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  });

  it('MOVED to the leader of a group led elsewhere; READONLY reads of it are served by the local replica', async () => {
    view.current = layout({ leader: 'n2' });
    expect(await call('set', 'a', '3')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    expect(await call('get', 'a')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    expect(await call('set', 'b', '2')).toBe('+OK\r\n');
    expect(await call('readonly')).toBe('+OK\r\n');
    expect(await call('get', 'a')).toBe('$1\r\n1\r\n');
    expect(await call('set', 'a', '3')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    // A replica takes shard subscriptions; SPUBLISH goes through the leader's log.
    expect(await call('ssubscribe', 'a')).toBe('*3\r\n$10\r\nssubscribe\r\n$1\r\na\r\n:1\r\n');
    const watcher = await RawConn.open(self.port);
    expect((await watcher.call('client', 'list')).toString()).toMatch(/ flags=Pr db=0 sub=0 psub=0 ssub=1 multi=-1 /);
    expect((await watcher.call('info', 'stats')).toString()).toContain('pubsubshard_channels:1\r\n');
    watcher.close();
    expect(await call('sunsubscribe')).toBe('*3\r\n$12\r\nsunsubscribe\r\n$1\r\na\r\n:0\r\n');
    expect(await call('spublish', 'a', 'm')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    expect(await call('readwrite')).toBe('+OK\r\n');
  });

  it('MOVED for SSUBSCRIBE and READONLY reads of a group this node does not replicate', async () => {
    view.current = layout({ leader: 'n2', replicas: [other], local: undefined });
    expect(await call('readonly')).toBe('+OK\r\n');
    expect(await call('get', 'a')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    expect(await call('ssubscribe', 'a')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    expect(await call('readwrite')).toBe('+OK\r\n');
  });

  it('CLUSTERDOWN without a leader or an owner, TRYAGAIN mid-change; other groups go on', async () => {
    view.current = layout({ leader: undefined, lastLeader: 'n2' });
    expect(await call('get', 'a')).toBe('-CLUSTERDOWN No leader elected\r\n');
    expect(await call('get', 'b')).toBe('$1\r\n2\r\n');
    view.current = layout({ changing: true });
    expect(await call('set', 'a', '4')).toBe(
      `-TRYAGAIN slot ${A} is changing groups (a split or replica move is being applied); the command did not run, retry\r\n`,
    );
    view.current = layout({ ranges: [] });
    expect(await call('get', 'a')).toBe('-CLUSTERDOWN Hash slot not served\r\n');
    expect(await call('cluster', 'info')).toMatch(/cluster_state:fail\r\ncluster_slots_assigned:8192\r\n/);
    expect(await call('get', 'b')).toBe('$1\r\n2\r\n');
  });

  it('a transaction queued for a group is refused at EXEC once the map moved that group away', async () => {
    view.current = layout({});
    expect(await call('multi')).toBe('+OK\r\n');
    expect(await call('set', 'a', '5')).toBe('+QUEUED\r\n');
    view.current = layout({ leader: 'n2' });
    expect(await call('exec')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    expect(await call('exec')).toBe('-ERR EXEC without MULTI\r\n');
    view.current = layout({});
    expect(await call('get', 'a')).toBe('$1\r\n1\r\n');
    // Without a queued key, EXEC goes where its WATCHed key's version lives.
    expect(await call('watch', 'a')).toBe('+OK\r\n');
    expect(await call('multi')).toBe('+OK\r\n');
    expect(await call('ping')).toBe('+QUEUED\r\n');
    view.current = layout({ leader: 'n2' });
    expect(await call('exec')).toBe(`-MOVED ${A} 127.0.0.2:7002\r\n`);
    view.current = layout({});
  });

  it('CLUSTER SLOTS and NODES follow the current view', async () => {
    view.current = layout({ leader: 'n2' });
    const slots = await call('cluster', 'slots');
    expect(slots).toContain(`:8192\r\n:16383\r\n*4\r\n$9\r\n127.0.0.2\r\n:7002\r\n`);
    const nodes = (await call('cluster', 'nodes')).replace(/^=\d+\r\ntxt:|^\$\d+\r\n/, '').split('\n');
    expect(nodes[0]).toBe(`${clusterNodeId('n1')} 127.0.0.1:${self.port}@${self.httpPort} myself,master - 0 0 1 connected 0-8191`);
    expect(nodes[1]).toMatch(new RegExp(`^${clusterNodeId('n2')} 127\\.0\\.0\\.2:7002@17002 master - 0 \\d+ 1 connected 8192-16383$`));
  });
});
