/**
 * CLUSTER SLOTS/SHARDS/NODES/INFO/MYID/KEYSLOT/COUNTKEYSINSLOT/GETKEYSINSLOT and
 * READONLY/READWRITE. The first four are rendered from the context's `ClusterView`
 * (cluster/render.ts), so ioredis `Cluster` and node-redis `createCluster` discover every
 * group's leader as the master of its slots and the other replicas as its replicas; today's
 * single group is the master of slots 0-16383.
 *
 * While a group has no leader its slots fail: CLUSTER INFO says `cluster_state:fail`, and the
 * slots stay with the last leader, flagged `fail?` in NODES and `failed` in SHARDS when this node
 * cannot reach it (Redis keeps a failed master as the owner until a replica is promoted), so a
 * client that refreshes its map mid-election still has a node to fail on and retry. Replicas
 * this node cannot reach are left out of CLUSTER SLOTS (Redis leaves out failed replicas too).
 *
 * COUNTKEYSINSLOT and GETKEYSINSLOT read this node's own keys (Redis: "local keys"), without a
 * barrier, like a replica's. The keyspace keeps no slot index, so they walk it in SCAN pages:
 * O(N) in the node's keys, as KEYS is.
 */

import { clusterInfoLines, clusterNodes, clusterShards, clusterSlots } from '../cluster/render.ts';
import { R, type Reply } from '../reply.ts';
import { keyHashSlot, SLOT_COUNT } from '../slot.ts';
import { int64OrReply } from './args.ts';
import { type CommandImpl, local, type NodeContext } from './context.ts';
import { clusterNodeId } from './topology.ts';

const INVALID_SLOT = R.error('ERR Invalid slot');
const INVALID_SLOT_OR_COUNT = R.error('ERR Invalid slot or number of keys');
/** Keys examined per SCAN page while looking for a slot's keys. */
const PAGE = 1024;

const validSlot = (n: bigint): boolean => n >= 0n && n < BigInt(SLOT_COUNT);

/** Calls `visit` with each of this node's live keys in `slot` until it returns false. */
function eachKeyInSlot(ctx: NodeContext, slot: number, visit: (key: Buffer) => boolean): void {
  const kv = ctx.node.kv;
  const now = ctx.node.now();
  let cursor = 0;
  do {
    const page = kv.scan(cursor, { count: PAGE }, now);
    for (const k of page.keys) if (keyHashSlot(k) === slot && !visit(k)) return;
    cursor = page.cursor;
  } while (cursor !== 0);
}

function countKeysInSlot(ctx: NodeContext, argv: Buffer[]): Reply {
  const slot = int64OrReply(argv[2]);
  if (typeof slot !== 'bigint') return slot;
  if (!validSlot(slot)) return INVALID_SLOT;
  let count = 0;
  eachKeyInSlot(ctx, Number(slot), () => {
    count++;
    return true;
  });
  return R.int(count);
}

function getKeysInSlot(ctx: NodeContext, argv: Buffer[]): Reply {
  const slot = int64OrReply(argv[2]);
  if (typeof slot !== 'bigint') return slot;
  const max = int64OrReply(argv[3]);
  if (typeof max !== 'bigint') return max;
  if (!validSlot(slot) || max < 0n) return INVALID_SLOT_OR_COUNT;
  if (max === 0n) return R.EMPTY_ARRAY;
  const keys: Reply[] = [];
  eachKeyInSlot(ctx, Number(slot), (k) => {
    keys.push(R.bulk(k));
    return BigInt(keys.length) < max;
  });
  return R.array(keys);
}

export const CLUSTER_COMMANDS = {
  'cluster|slots': local((ctx, conn) => clusterSlots(ctx.view, conn.tls)),
  'cluster|shards': local((ctx) => clusterShards(ctx.view)),
  'cluster|nodes': local((ctx, conn) => R.verbatim(clusterNodes(ctx.view, Date.now(), conn.tls))),
  'cluster|info': local((ctx) => {
    // Not a Redis field: the RaftKV cluster this node's data belongs to (node/cluster-id.ts).
    const lines = [...clusterInfoLines(ctx.view), `raftkv_cluster_id:${ctx.node.clusterId ?? ''}`];
    return R.verbatim(`${lines.join('\r\n')}\r\n`);
  }),
  'cluster|myid': local((ctx) => R.bulk(clusterNodeId(ctx.node.id))),
  'cluster|keyslot': local((_ctx, _conn, argv) => R.int(keyHashSlot(argv[2]))),
  'cluster|countkeysinslot': local((ctx, _conn, argv) => countKeysInSlot(ctx, argv)),
  'cluster|getkeysinslot': local((ctx, _conn, argv) => getKeysInSlot(ctx, argv)),
  readonly: local((_ctx, conn) => {
    conn.readonly = true;
    return R.OK;
  }),
  readwrite: local((_ctx, conn) => {
    conn.readonly = false;
    return R.OK;
  }),
} as const satisfies Record<string, CommandImpl>;
