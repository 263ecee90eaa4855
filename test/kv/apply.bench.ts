/**
 * Apply and read throughput of KvStore on small keys (for the report; not a test).
 * Run: npx tsx test/kv/apply.bench.ts
 */
import { Buffer } from 'node:buffer';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { KvStore } from '../../src/kv/store.ts';

const N = 300_000;
const keys = Array.from({ length: 100_000 }, (_, i) => Buffer.from(`key:${String(i).padStart(12, '0')}`));
const value = Buffer.alloc(64, 'v');

function bench(label: string, fn: (i: number) => void): void {
  for (let i = 0; i < 50_000; i++) fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label.padEnd(34)} ${ns.toFixed(0).padStart(5)} ns/op  ${(1e9 / ns / 1000).toFixed(0)}k ops/s`);
}

const store = new KvStore();
let index = 0;
const ts = 1_700_000_000_000;
bench('apply SET', (i) => store.apply({ ts, ops: [{ type: 'set', key: keys[i % keys.length], value }] }, ++index));
bench('apply SET PXAT', (i) => store.apply({ ts, ops: [{ type: 'set', key: keys[i % keys.length], value, pxat: ts + 60_000 + i }] }, ++index));
const incr: KvOp = { type: 'incrby', key: Buffer.from('counter'), delta: 1n };
bench('apply INCR', () => store.apply({ ts, ops: [incr] }, ++index));
const encoded = encodeEntry({ ts, ops: [{ type: 'set', key: keys[7], value }] });
bench('decode + apply SET', () => store.apply(decodeEntry(encoded), ++index));
bench('get (read path)', (i) => store.get(keys[i % keys.length], ts));
bench('get with LRU touch', (i) => store.get(keys[i % keys.length], ts, { touch: true }));
