/**
 * The routing layer's pure parts over a `LayoutView` of 3 groups on 3 nodes (each node leads
 * one group and replicates the other two, as `--shards 3` lays them out): which slot and group
 * a request routes by, CROSSSLOT across groups (and across slots for shard channels),
 * transactions judged over their queued and WATCHed keys, the checks a layout must pass, the
 * CLUSTER replies rendered from it, and the log encoding of shard messages.
 */
import { describe, expect, it } from 'vitest';
import type { Member } from '../../src/node/members.ts';
import { type GroupLayout, LayoutError, LayoutView } from '../../src/resp/cluster/layout-view.ts';
import { clusterInfoLines, clusterNodes, clusterShards, clusterSlots } from '../../src/resp/cluster/render.ts';
import { KEYLESS, requestSlot, transactionSlot } from '../../src/resp/cluster/routing.ts';
import type { ClusterView } from '../../src/resp/cluster/view.ts';
import { resolveCommand } from '../../src/resp/commands/table.ts';
import type { QueuedCommand } from '../../src/resp/conn.ts';
import { encodeReply } from '../../src/resp/encoder.ts';
import { clusterNodeId } from '../../src/resp/handlers/topology.ts';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { args } from './support/handlers.ts';
import { plain } from './support/reply-reader.ts';
import { evenRanges } from './support/sharded.ts';

const members: Member[] = [1, 2, 3].map((i) => ({ id: `n${i}`, host: '127.0.0.1', port: 7000 + i, httpPort: 17000 + i }));
const ranges = evenRanges(3); // 0-5460, 5461-10921, 10922-16383

/** Group g+1 owns ranges[g], is led by n(g+1) and replicated on all three nodes. */
function layout(self: string, over: Partial<GroupLayout<string>>[] = []): LayoutView<string> {
  return new LayoutView({
    self,
    epoch: 7,
    groups: ranges.map((r, g) => ({
      group: g + 1,
      ranges: [r],
      replicas: members,
      leader: members[g].id,
      configEpoch: 3 + g,
      local: `handle-g${g + 1}`,
      offsets: { n1: 10, n2: 20, n3: 30 },
      ...over[g],
    })),
    reachable: (id) => id !== 'n3' || self === 'n3',
  });
}

/** A key whose slot group g owns (found, never assumed). */
const keyIn = (g: number, salt = ''): string => {
  for (let i = 0; ; i++) {
    const k = `k${salt}${i}`;
    const s = keyHashSlot(k);
    if (s >= ranges[g - 1].start && s <= ranges[g - 1].end) return k;
  }
};
const route = (view: ClusterView, ...a: string[]) => {
  const r = requestSlot(view, resolveCommand(args(...a))!, args(...a));
  return typeof r === 'number' ? r : encodeReply(r, 2).toString();
};
const CROSSSLOT = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
const queued = (...cmds: string[][]): QueuedCommand[] => cmds.map((a) => ({ cmd: resolveCommand(args(...a))!, argv: args(...a) }));

describe('requestSlot', () => {
  const view = layout('n1');
  const [a1, b1, a2, a3] = [keyIn(1), keyIn(1, 'x'), keyIn(2), keyIn(3)];

  it('routes by the first key, keyless commands as KEYLESS', () => {
    expect(route(view, 'get', a2)).toBe(keyHashSlot(a2));
    expect(route(view, 'set', `{${a3}}.anything`, 'v')).toBe(keyHashSlot(a3));
    expect(route(view, 'dbsize')).toBe(KEYLESS);
    expect(route(view, 'publish', 'ch', 'm')).toBe(KEYLESS);
  });

  it('keys of one group pass, even in different slots; keys of two groups are CROSSSLOT', () => {
    expect(keyHashSlot(a1)).not.toBe(keyHashSlot(b1));
    expect(route(view, 'mset', a1, '1', b1, '2')).toBe(keyHashSlot(a1));
    expect(route(view, 'mget', a1, a2)).toBe(CROSSSLOT);
    expect(route(view, 'del', a1, b1, a3)).toBe(CROSSSLOT);
    // Hash tags keep related keys together.
    expect(route(view, 'mset', `{${a3}}x`, '1', `{${a3}}y`, '2')).toBe(keyHashSlot(a3));
  });

  it('shard channels follow Redis: CROSSSLOT across slots even within a group', () => {
    expect(route(view, 'ssubscribe', a1, b1)).toBe(CROSSSLOT);
    expect(route(view, 'sunsubscribe', a1, `{${a1}}x`)).toBe(keyHashSlot(a1));
    expect(route(view, 'spublish', a2, 'm')).toBe(keyHashSlot(a2));
    expect(route(view, 'sunsubscribe')).toBe(KEYLESS);
  });

  it('a slot no group owns is CLUSTERDOWN Hash slot not served', () => {
    const partial = new LayoutView({ self: 'n1', epoch: 1, groups: [{ group: 1, ranges: [ranges[0]], replicas: members, configEpoch: 1 }] });
    expect(route(partial, 'get', a2)).toBe('-CLUSTERDOWN Hash slot not served\r\n');
    expect(route(partial, 'get', a1)).toBe(keyHashSlot(a1));
  });

  it('with one group only the first key matters (the --shards 1 path)', () => {
    const one = new LayoutView({ self: 'n1', epoch: 1, groups: [{ group: 1, ranges: [{ start: 0, end: 16383 }], replicas: members, configEpoch: 1 }] });
    expect(one.spansGroups).toBe(false);
    expect(route(one, 'mget', a1, a2, a3)).toBe(keyHashSlot(a1));
    expect(route(one, 'ssubscribe', a1, b1)).toBe(CROSSSLOT);
  });
});

describe('transactionSlot', () => {
  const view = layout('n1');
  const [a1, b1, a2] = [keyIn(1), keyIn(1, 'x'), keyIn(2)];

  it('routes by the first queued key, else the first WATCHed key, else KEYLESS', () => {
    expect(transactionSlot(view, queued(['ping'], ['set', a1, 'v'], ['get', b1]), [])).toBe(keyHashSlot(a1));
    expect(transactionSlot(view, queued(['ping']), [a2])).toBe(keyHashSlot(a2));
    expect(transactionSlot(view, queued(['ping']), [])).toBe(KEYLESS);
  });

  it('queued commands in two groups are CROSSSLOT', () => {
    const r = transactionSlot(view, queued(['set', a1, 'v'], ['set', a2, 'v']), []);
    expect(typeof r === 'number' ? r : encodeReply(r, 2).toString()).toBe(CROSSSLOT);
  });

  it('a WATCHed key in another group than the queued ones is CROSSSLOT (its version lives there)', () => {
    const r = transactionSlot(view, queued(['set', a1, 'v']), [a2]);
    expect(typeof r === 'number' ? r : encodeReply(r, 2).toString()).toBe(CROSSSLOT);
    expect(transactionSlot(view, queued(['set', a1, 'v']), [b1])).toBe(keyHashSlot(a1));
  });

  it('SPUBLISH in a transaction is judged by group, like keys', () => {
    expect(transactionSlot(view, queued(['spublish', a1, 'm'], ['spublish', b1, 'm']), [])).toBe(keyHashSlot(a1));
  });
});

describe('LayoutView', () => {
  it('answers owners without allocating: leader, local handle, MOVED target', () => {
    const view = layout('n2');
    const o1 = view.owner(0);
    expect(o1).toMatchObject({ group: 1, local: 'handle-g1', leads: false, changing: false });
    expect(o1?.leader?.id).toBe('n1');
    expect(view.owner(ranges[1].start)?.leads).toBe(true);
    expect(view.owner(0)).toBe(o1);
    expect(view.groupOf(16383)).toBe(3);
    // Node-wide commands (DBSIZE, KEYS, SCAN) run on a group this node leads.
    expect(view.localLeader()?.group).toBe(2);
    expect(layout('n2', [{}, { local: undefined, replicas: [members[0], members[2]], leader: 'n3' }]).localLeader()).toBeUndefined();
    expect(view.groupOf(16384)).toBeUndefined();
  });

  it('refuses layouts that would misroute', () => {
    const g = (over: Partial<GroupLayout<string>>): GroupLayout<string> => ({ group: 1, ranges: [], replicas: members, configEpoch: 1, ...over });
    const bad: [GroupLayout<string>[], RegExp][] = [
      [[g({ ranges: [{ start: 0, end: 10 }] }), g({ group: 2, ranges: [{ start: 10, end: 20 }] })], /slot 10 is owned by two groups/],
      [[g({ ranges: [{ start: 5, end: 4 }] })], /invalid slot range/],
      [[g({ ranges: [{ start: 0, end: 16384 }] })], /invalid slot range/],
      [[g({ group: 0, ranges: [{ start: 0, end: 1 }] })], /metadata group owns no slots/],
      [[g({ group: -1 })], /not a uint32/],
      [[g({}), g({})], /listed twice/],
      [[g({ replicas: [members[1]], local: 'h' })], /not its replica/],
      [[g({ leader: 'n9' })], /leader n9 is not its replica/],
    ];
    for (const [groups, why] of bad) expect(() => new LayoutView({ self: 'n1', epoch: 1, groups })).toThrow(why);
    expect(() => new LayoutView({ self: 'n1', epoch: 1, groups: [g({ group: -1 })] })).toThrow(LayoutError);
  });
});

describe('CLUSTER replies from a 3-group view', () => {
  const view = layout('n1');
  const id = (i: number) => clusterNodeId(`n${i}`);
  const node = (i: number) => ['127.0.0.1', 7000 + i, id(i), {}];

  it('SLOTS: each range with its leader first, then the reachable replicas', () => {
    // n1 does not reach n3 here, so n3 is left out as a replica (Redis leaves out failed ones).
    expect(plain(clusterSlots(view, false))).toEqual([
      [0, 5460, node(1), node(2)],
      [5461, 10921, node(2), node(1)],
      [10922, 16383, node(3), node(1), node(2)],
    ]);
  });

  it('SHARDS: one shard per group with roles, offsets and health', () => {
    const shards = plain(clusterShards(view)) as { slots: number[]; nodes: Record<string, unknown>[] }[];
    expect(shards.map((s) => s.slots)).toEqual([
      [0, 5460],
      [5461, 10921],
      [10922, 16383],
    ]);
    expect(shards[1].nodes.map((n) => [n.id, n.role, n.health, n['replication-offset']])).toEqual([
      [id(2), 'master', 'online', 20],
      [id(1), 'replica', 'online', 10],
      [id(3), 'replica', 'failed', 30],
    ]);
    expect(Object.keys(shards[0].nodes[0])).toEqual(['id', 'port', 'ip', 'endpoint', 'role', 'replication-offset', 'health']);
  });

  it('NODES: every node once, each a master of the group it leads, with its config epoch', () => {
    const lines = clusterNodes(view, 1234, false).trimEnd().split('\n');
    expect(lines).toEqual([
      `${id(1)} 127.0.0.1:7001@17001 myself,master - 0 0 3 connected 0-5460`,
      `${id(2)} 127.0.0.1:7002@17002 master - 0 1234 4 connected 5461-10921`,
      `${id(3)} 127.0.0.1:7003@17003 master,fail? - 0 0 5 disconnected 10922-16383`,
    ]);
  });

  it('NODES: a node leading no group is a slave of the first group it replicates; split ranges print apart', () => {
    const v = new LayoutView({
      self: 'n3',
      epoch: 9,
      groups: [
        {
          group: 1,
          ranges: [
            { start: 0, end: 99 },
            { start: 200, end: 16383 },
          ],
          replicas: members,
          leader: 'n1',
          configEpoch: 8,
        },
        {
          group: 2,
          ranges: [
            { start: 100, end: 100 },
            { start: 101, end: 199 },
          ],
          replicas: members.slice(0, 2),
          leader: 'n2',
          configEpoch: 9,
        },
      ],
    });
    expect(clusterNodes(v, 1, false).trimEnd().split('\n')).toEqual([
      `${id(1)} 127.0.0.1:7001@17001 master - 0 1 8 connected 0-99 200-16383`,
      `${id(2)} 127.0.0.1:7002@17002 master - 0 1 9 connected 100 101-199`,
      `${id(3)} 127.0.0.1:7003@17003 myself,slave ${id(1)} 0 0 8 connected`,
    ]);
    expect(plain(clusterSlots(v, false))).toEqual([
      [0, 99, node(1), node(2), node(3)],
      [100, 100, node(2), node(1)],
      [101, 199, node(2), node(1)],
      [200, 16383, node(1), node(2), node(3)],
    ]);
  });

  it('INFO: ok while every group has a leader; a leaderless group fails its slots only', () => {
    const fields = (v: LayoutView<string>) => Object.fromEntries(clusterInfoLines(v).map((l) => l.split(':')));
    expect(fields(view)).toMatchObject({
      cluster_state: 'ok',
      cluster_slots_assigned: '16384',
      cluster_slots_ok: '16384',
      cluster_slots_fail: '0',
      cluster_known_nodes: '3',
      cluster_size: '3',
      cluster_current_epoch: '7',
      cluster_my_epoch: '3',
    });
    const down = layout('n1', [{}, { leader: undefined, lastLeader: 'n2' }]);
    expect(fields(down)).toMatchObject({ cluster_state: 'fail', cluster_slots_ok: String(16384 - 5461), cluster_slots_fail: '5461', cluster_size: '2' });
    // The last leader keeps its slots in SLOTS, as Redis keeps a failed master.
    expect((plain(clusterSlots(down, false)) as unknown[][])[1][2]).toEqual(node(2));
  });
});
