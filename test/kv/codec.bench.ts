/**
 * Hand-written codec vs msgpackr for small SET entries (the common case).
 * Run: npx tsx test/kv/codec.bench.ts
 */
import { Buffer } from 'node:buffer';
import { Packr } from 'msgpackr';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import type { KvEntry } from '../../src/kv/ops.ts';

const N = 1_000_000;
const key = Buffer.from('key:000000000123');
const value = Buffer.alloc(64, 'v');
const entries: KvEntry[] = [];
for (let i = 0; i < 1024; i++) {
  entries.push({ ts: 1_700_000_000_000 + i, ops: [{ type: 'set', key, value, pxat: 1_700_000_060_000 + i }] });
}
const packr = new Packr({ useRecords: false, moreTypes: true });

function time(label: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < 100_000; i++) fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label.padEnd(28)} ${ns.toFixed(0)} ns/op`);
}

const hand = entries.map(encodeEntry);
const mp = entries.map((e) => packr.pack(e));
console.log(`encoded size: hand-written ${hand[0].length} B, msgpackr ${mp[0].length} B`);
time('hand-written encode', (i) => encodeEntry(entries[i & 1023]));
time('msgpackr encode', (i) => packr.pack(entries[i & 1023]));
time('hand-written decode', (i) => decodeEntry(hand[i & 1023]));
time('msgpackr decode', (i) => packr.unpack(mp[i & 1023]));
