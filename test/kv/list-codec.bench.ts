/**
 * The list ops in the entry codec (issue 14) beside SET, and msgpackr for scale: an LPUSH of one
 * 64-byte element and an LMOVE under a 16-byte key, sizes and ns per encode/decode, each row's
 * hand-written and msgpackr figures taken in the same run.
 * Run: npx tsx test/kv/list-codec.bench.ts
 */
import { Buffer } from 'node:buffer';
import { Packr } from 'msgpackr';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import type { KvEntry } from '../../src/kv/ops.ts';

const N = 500_000;
const key = Buffer.from('key:000000000123');
const value = Buffer.alloc(64, 'v');
const mk = (i: number): KvEntry[] => [
  { ts: 1_700_000_000_000 + i, ops: [{ type: 'lpush', key, elements: [value], left: true }] },
  { ts: 1_700_000_000_000 + i, ops: [{ type: 'set', key, value }] },
  { ts: 1_700_000_000_000 + i, ops: [{ type: 'lmove', key, dest: key, fromLeft: true }] },
];
const packr = new Packr({ useRecords: false, moreTypes: true });
for (const which of [0, 1, 2]) {
  const entries = Array.from({ length: 1024 }, (_, i) => mk(i)[which]);
  const hand = entries.map(encodeEntry);
  const mp = entries.map((e) => packr.pack(e));
  const time = (fn: (i: number) => unknown) => {
    for (let i = 0; i < 50_000; i++) fn(i);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(i);
    return (Number(process.hrtime.bigint() - t0) / N).toFixed(0);
  };
  console.log(
    entries[0].ops[0].type,
    `size hand ${hand[0].length} B msgpackr ${mp[0].length} B; encode ${time((i) => encodeEntry(entries[i & 1023]))} ns (msgpackr ${time((i) => packr.pack(entries[i & 1023]))}); decode ${time((i) => decodeEntry(hand[i & 1023]))} ns (msgpackr ${time((i) => packr.unpack(mp[i & 1023]))})`,
  );
}
