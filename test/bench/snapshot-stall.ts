/**
 * How long does snapshotting a large keyspace block the event loop of a live node?
 * Loads N keys (16-byte keys, 100-byte values) into a single-node RaftKV (LevelDB on disk),
 * then takes a snapshot while a 10 ms timer measures event-loop delay.
 *
 *   npx tsx test/bench/snapshot-stall.ts [keys=1000000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KvOp } from '../../src/kv/index.ts';
import { resolveConfig } from '../../src/node/config.ts';
import { createLogger } from '../../src/node/logger.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { measureLoopStall } from '../support/loop-stall.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'raftkv-snapbench-'));
const cfg = resolveConfig({ 'data-dir': dir, port: '7999', 'http-port': '17999', 'snapshot-entries': String(1e9), 'snapshot-bytes': String(1e12) }, {});
const node = await RaftNode.open(cfg, createLogger('warn', 'bench', false));
node.start();
while (!node.isLeader()) await new Promise((r) => setTimeout(r, 10));

const value = Buffer.alloc(100, 'v');
const t0 = performance.now();
const batch = 1000;
for (let i = 0; i < total; i += batch * 8) {
  const inflight: Promise<unknown>[] = [];
  for (let j = i; j < Math.min(total, i + batch * 8); j += batch) {
    const pairs: [Buffer, Buffer][] = [];
    for (let k = j; k < Math.min(total, j + batch); k++) pairs.push([Buffer.from(`key:${String(k).padStart(12, '0')}`), value]);
    inflight.push(node.propose([{ type: 'mset', pairs } as KvOp]));
  }
  await Promise.all(inflight);
}
console.log(`loaded ${node.kv.size} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s; rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);

const s0 = performance.now();
let snap: Awaited<ReturnType<typeof node.snapshotNow>> | undefined;
const stall = await measureLoopStall(async () => {
  snap = await node.snapshotNow();
});
const took = performance.now() - s0;
console.log(
  `snapshot of ${(snap!.bytes / 2 ** 20).toFixed(0)} MiB at index ${snap!.meta.index} took ${(took / 1000).toFixed(2)} s; ` +
    `longest event-loop slice ${stall.longestSliceMs.toFixed(1)} ms (loop-thread CPU); monitorEventLoopDelay max ${stall.delayMaxMs.toFixed(1)} ms`,
);
await node.shutdown();
rmSync(dir, { recursive: true, force: true });
