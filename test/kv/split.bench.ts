/**
 * The cost of a split's cleanup on 1M keys (16-byte keys, 100-byte values): the SPLIT apply and
 * every DROP_UNOWNED step of `limit` seqs, wall clock (for the report; not a test).
 * Run: node --max-semi-space-size=8 --import tsx test/kv/split.bench.ts [limit]
 */
import { Buffer } from 'node:buffer';
import { MAX_DROP_EXAMINED } from '../../src/kv/split.ts';
import { KvStore } from '../../src/kv/store.ts';

const N = 1_000_000;
const limit = Number(process.argv[2] ?? MAX_DROP_EXAMINED);
const store = new KvStore({ countSlots: true });
let index = 0;
for (let i = 0; i < N; i += 1000) {
  const pairs: [Buffer, Buffer][] = [];
  for (let j = 0; j < 1000; j++) pairs.push([Buffer.from(`key:${String(i + j).padStart(12, '0')}`), Buffer.alloc(100, 97)]);
  store.apply({ ts: 1, ops: [{ type: 'mset', pairs }] }, ++index);
}
let t = performance.now();
store.apply({ ts: 1, ops: [{ type: 'split', atSlot: 8192, group: 2 }] }, ++index);
console.log(`SPLIT apply: ${(performance.now() - t).toFixed(2)} ms, ${store.unownedKeys} keys given up`);
store.takeSplitImage(2)?.cancel();
const times: number[] = [];
while (store.cleanupPending > 0) {
  t = performance.now();
  store.apply({ ts: 1, ops: [{ type: 'dropUnowned', limit }] }, ++index);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))].toFixed(2);
console.log(`DROP_UNOWNED ${limit}: ${times.length} steps, median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms; ${store.unownedKeys} left`);
