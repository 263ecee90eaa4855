/**
 * What the slot map costs at the sizes a cluster reaches: lookups (every keyed command routes
 * through one), apply (group 0's state machine), the codec (its log entries and snapshot), and
 * one plan of the rebalancer when a node joins.
 *
 *   npx tsx test/shard/slot-map.bench.ts
 *
 * Maps of 3, 100 and 1000 data groups (plus group 0) over 9 nodes, from initialLayout.
 */
import { decodeMap, decodeOp, encodeMap, encodeOp } from '../../src/shard/codec.ts';
import { initialLayout } from '../../src/shard/layout.ts';
import { apply, type ShardOp } from '../../src/shard/ops.ts';
import { planRebalance } from '../../src/shard/planner.ts';
import { groupOfSlot, type SlotMap } from '../../src/shard/slot-map.ts';

function time(what: string, iterations: number, f: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(iterations, 1000); i++) f(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) f(i);
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`  ${what.padEnd(44)} ${ns < 10_000 ? `${ns.toFixed(0)} ns` : `${(ns / 1000).toFixed(1)} us`}`);
}

const nodes = Array.from({ length: 9 }, (_, i) => `n${i + 1}`);
for (const shards of [3, 100, 1000]) {
  const map: SlotMap = initialLayout(nodes, shards);
  const bytes = encodeMap(map);
  const op: ShardOp = { type: 'setLeaderHint', epoch: map.epoch, group: 2, node: map.groups[2].voters[1] };
  const split: ShardOp = { type: 'split', epoch: map.epoch, group: 1, atSlot: map.ranges[0].start + 1, newGroup: shards + 1 };
  const entry = encodeOp(op);
  console.log(`${shards} data groups (${bytes.length} bytes encoded):`);
  time('groupOfSlot', 1_000_000, (i) => groupOfSlot(map, i & 16383));
  time('apply setLeaderHint', 20_000, () => apply(map, op));
  time('apply split', 20_000, () => apply(map, split));
  time('encodeOp + decodeOp', 200_000, () => decodeOp(encodeOp(op)) && entry);
  time('encodeMap', 2_000, () => encodeMap(map));
  time('decodeMap', 2_000, () => decodeMap(bytes));
  time('planRebalance, n10 joined', 200, () => planRebalance({ map, nodes: [...nodes, 'n10'].map((id) => ({ id })) }));
}
