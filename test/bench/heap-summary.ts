/**
 * Summarizes a V8 .heapsnapshot (as written by memory-breakdown.ts --heap-snapshot): total self
 * size and count per (node type, constructor or string kind), largest first. Enough to see what
 * a node's heap holds per key without loading the snapshot into DevTools. --retainers N prints,
 * for the N largest nodes, one retaining path up to a GC root (what keeps a big buffer alive).
 *
 *   npx tsx test/bench/heap-summary.ts FILE.heapsnapshot [--top 30] [--retainers 3]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface HeapSnapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '30' }, retainers: { type: 'string', default: '0' } },
  allowPositionals: true,
});

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

/** One retaining path per large node: walks up the first strong retainer, avoiding cycles. */
function printRetainers(count: number): void {
  const edgeFields = snap.snapshot.meta.edge_fields;
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const estride = edgeFields.length;
  const etype = edgeFields.indexOf('type');
  const ename = edgeFields.indexOf('name_or_index');
  const eto = edgeFields.indexOf('to_node');
  const ecount = fields.indexOf('edge_count');
  // retainer[node] = [from node, edge label]; the first strong edge wins.
  const retainer = new Map<number, [number, string]>();
  let e = 0;
  for (let from = 0; from < snap.nodes.length; from += stride) {
    for (let k = 0; k < snap.nodes[from + ecount]; k++, e += estride) {
      const type = edgeTypes[snap.edges[e + etype]];
      const to = snap.edges[e + eto];
      if (type === 'weak' || retainer.has(to)) continue;
      const label = type === 'element' || type === 'hidden' ? `[${snap.edges[e + ename]}]` : snap.strings[snap.edges[e + ename]];
      retainer.set(to, [from, `${type}:${label}`]);
    }
  }
  const describe = (n: number) => `${types[snap.nodes[n + typeAt]]} ${snap.strings[snap.nodes[n + nameAt]].slice(0, 50)} (${snap.nodes[n + sizeAt]} B)`;
  const order: number[] = [];
  for (let i = 0; i < snap.nodes.length; i += stride) order.push(i);
  order.sort((a, b) => snap.nodes[b + sizeAt] - snap.nodes[a + sizeAt]);
  for (const start of order.slice(0, count)) {
    console.log(`\n${describe(start)}`);
    const seen = new Set<number>([start]);
    for (let n = start, depth = 0; depth < 20; depth++) {
      const r = retainer.get(n);
      if (r === undefined || seen.has(r[0])) break;
      seen.add(r[0]);
      console.log(`  <- ${r[1]} of ${describe(r[0])}`);
      n = r[0];
    }
  }
}

printRetainers(Number(values.retainers));
