/**
 * Summarizes a V8 .heapsnapshot (as written by memory-breakdown.ts --heap-snapshot): total self
 * size and count per (node type, constructor or string kind), largest first. Enough to see what
 * a node's heap holds per key without loading the snapshot into DevTools.
 *
 *   npx tsx test/bench/heap-summary.ts FILE.heapsnapshot [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '30' } }, allowPositionals: true });

const snap = JSON.parse(readFileSync(positionals[0], 'utf8')) as HeapSnapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const stride = fields.length;
const typeAt = fields.indexOf('type');
const nameAt = fields.indexOf('name');
const sizeAt = fields.indexOf('self_size');

const groups = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += stride) {
  const type = types[snap.nodes[i + typeAt]];
  // Strings are named by their content: group them by kind only.
  const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : snap.strings[snap.nodes[i + nameAt]];
  const key = `${type} ${name.slice(0, 60)}`;
  const g = groups.get(key) ?? { count: 0, bytes: 0 };
  g.count++;
  g.bytes += snap.nodes[i + sizeAt];
  total += snap.nodes[i + sizeAt];
  groups.set(key, g);
}

const MiB = 2 ** 20;
console.log(`total self size ${(total / MiB).toFixed(1)} MiB in ${snap.nodes.length / stride} nodes`);
const rows = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(values.top));
for (const [key, g] of rows) {
  console.log(`${(g.bytes / MiB).toFixed(1).padStart(8)} MiB ${String(g.count).padStart(9)} x ${(g.bytes / g.count).toFixed(0).padStart(7)} B  ${key}`);
}
