/**
 * PositionIndex against the Map it replaced (member -> position beside the owner's array), in
 * one process, alternating rounds: bytes per entry (V8 heap + ArrayBuffers, the table's typed
 * arrays live outside the heap) and CPU ns per add, hit, miss and remove (process.cpuUsage, the
 * figure a shared machine leaves usable). Lookups use fresh strings, as parsed request args are.
 * Not a test. Run: node --expose-gc --import tsx test/kv/structs/position-index.bench.ts [--n 100000] [--rounds 7]
 */
import { Buffer } from 'node:buffer';
import { parseArgs } from 'node:util';
import { mulberry32 } from '../../../src/kv/prng.ts';
import { PositionIndex } from '../../../src/kv/structs/position-index.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const { values } = parseArgs({ options: { n: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '7' } } });
const N = Number(values.n);

/** A flat one-byte string, as the keyspace's binary strings are. */
const flat = (i: number) => Buffer.from(`member:${String(i).padStart(8, '0')}`).toString('latin1');

/** The owner's side of either index: add at the end, find, remove by swapping in the last. */
interface Indexed {
  keys: string[];
  add(k: string): void;
  find(k: string): number;
  remove(i: number): void;
}

function table(): Indexed {
  const keys: string[] = [];
  const idx = new PositionIndex(keys);
  return {
    keys,
    add: (k) => {
      keys.push(k);
      idx.add(keys, keys.length - 1);
    },
    find: (k) => idx.find(keys, k),
    remove: (i) => {
      const last = keys.length - 1;
      idx.remove(keys, i, last);
      keys[i] = keys[last];
      keys.pop();
    },
  };
}

function map(): Indexed {
  const keys: string[] = [];
  const m = new Map<string, number>();
  return {
    keys,
    add: (k) => {
      m.set(k, keys.length);
      keys.push(k);
    },
    find: (k) => m.get(k) ?? -1,
    remove: (i) => {
      const last = keys.length - 1;
      const gone = keys[i];
      if (i !== last) {
        keys[i] = keys[last];
        m.set(keys[i], i);
      }
      keys.pop();
      m.delete(gone);
    },
  };
}

const rng = mulberry32(7);
const order = Array.from({ length: N }, (_, i) => i);
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(rng() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}
const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
const memory = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

function round(make: () => Indexed): Record<string, number> {
  // Fresh strings for every phase, as parsed request args are: a Map caches a string's hash in
  // the string, so reusing one round's strings in the next would spare it the hashing.
  const members = Array.from({ length: N }, (_, i) => flat(i));
  const hits = order.map((i) => flat(i));
  const misses = order.map((i) => flat(i + N));
  const m0 = memory();
  let t = cpuNs();
  const x = make();
  for (let k = 0; k < N; k++) if (x.find(members[k]) < 0) x.add(members[k]);
  const add = (cpuNs() - t) / N;
  const bytes = (memory() - m0) / N;
  t = cpuNs();
  let found = 0;
  for (let k = 0; k < N; k++) if (x.find(hits[k]) >= 0) found++;
  const hit = (cpuNs() - t) / N;
  t = cpuNs();
  for (let k = 0; k < N; k++) if (x.find(misses[k]) >= 0) found++;
  const miss = (cpuNs() - t) / N;
  t = cpuNs();
  for (let k = 0; k < N; k++) x.remove(x.find(hits[k]));
  const remove = (cpuNs() - t) / N;
  if (found !== N || x.keys.length !== 0) throw new Error('wrong answers');
  return { bytes, add, hit, miss, remove };
}

const runs: Record<string, Record<string, number>[]> = { Map: [], PositionIndex: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  const pair: Array<[string, () => Indexed]> = [
    ['Map', map],
    ['PositionIndex', table],
  ];
  for (const [name, make] of r % 2 ? pair.reverse() : pair) runs[name].push(round(make));
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
console.log(`n = ${N}, ${values.rounds} rounds, medians (bytes per entry with the owner's array; CPU ns per op)`);
for (const k of ['bytes', 'add', 'hit', 'miss', 'remove']) {
  console.log(
    `${k.padEnd(7)} Map ${median(runs.Map.map((x) => x[k]))
      .toFixed(1)
      .padStart(7)}   PositionIndex ${median(runs.PositionIndex.map((x) => x[k]))
      .toFixed(1)
      .padStart(7)}`,
  );
}
