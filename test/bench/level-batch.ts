/**
 * CPU per put of the two ways level-storage.ts could hand a batch to classic-level: `_batch(ops)`
 * (the native side reads `type`, `key` and `value` off every op object by name) and a chained
 * batch (`_put(key, value)` per op). CPU includes LevelDB's worker thread; no fsync, so the
 * figure is the batch building and the write itself. `record` is the same bytes as one put per
 * batch (the entries' values joined under the first key): what one LevelDB record per batch of
 * entries would cost instead of one per entry (issue 15).
 *
 *   npx tsx test/bench/level-batch.ts [--puts 30] [--rounds 3000]
 */
import { parseArgs } from 'node:util';
import { Level } from 'level';
import { cleanup, tempDir } from './procs.ts';

const { values } = parseArgs({ options: { puts: { type: 'string', default: '30' }, rounds: { type: 'string', default: '3000' } } });
const PUTS = Number(values.puts);
const ROUNDS = Number(values.rounds);
type Op = { type: 'put'; key: Buffer; value: Buffer };
interface Chained {
  _put(k: Buffer, v: Buffer): void;
  _write(o: { sync: boolean }): Promise<void>;
}

const db = new Level<Buffer, Buffer>(tempDir('raftkv-level-batch-'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open();
const raw = db as unknown as { _batch(ops: Op[], o: { sync: boolean }): Promise<void>; _chainedBatch(): Chained };
let index = 0;
const op = (): Op => {
  const key = Buffer.allocUnsafe(9);
  key[0] = 0x65;
  key.writeBigUInt64BE(BigInt(index++), 1);
  return { type: 'put', key, value: Buffer.alloc(80, 1) };
};
const ways: Record<string, (ops: Op[]) => Promise<void>> = {
  _batch: (ops) => raw._batch(ops, { sync: false }),
  chained: (ops) => {
    const b = raw._chainedBatch();
    db.detachResource(b as unknown as Parameters<typeof db.detachResource>[0]);
    for (const o of ops) b._put(o.key, o.value);
    return b._write({ sync: false });
  },
  record: (ops) => {
    const b = raw._chainedBatch();
    db.detachResource(b as unknown as Parameters<typeof db.detachResource>[0]);
    b._put(ops[0]!.key, Buffer.concat(ops.map((o) => o.value)));
    return b._write({ sync: false });
  },
};
try {
  for (let pass = 0; pass < 4; pass++) {
    for (const [name, write] of Object.entries(ways)) {
      const batches = Array.from({ length: ROUNDS }, () => Array.from({ length: PUTS }, op));
      const t = process.cpuUsage();
      for (const ops of batches) await write(ops);
      const u = process.cpuUsage(t);
      console.log(`${name.padEnd(8)} ${((u.user + u.system) / ROUNDS / PUTS).toFixed(2)} us CPU per put (${PUTS}-put batches)`);
    }
  }
} finally {
  await db.close();
  await cleanup();
}
