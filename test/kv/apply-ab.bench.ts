/**
 * A/B of KvStore `apply` of SETs between two source trees (for the report; not a test): creates
 * of 200k new keys, then overwrites of them, in interleaved runs, timed by the thread's own CPU
 * time (Linux schedstat) so that other processes on a shared machine do not distort it.
 * Run: git archive <base> src | tar -x -C /tmp/base && npx tsx test/kv/apply-ab.bench.ts /tmp/base .
 * COUNT=1 makes the second tree's store keep per-slot key counts (`countSlots`).
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const [baseDir, newDir] = process.argv.slice(2).map((d) => resolve(d));
type Store = { apply(entry: unknown, index: number): unknown };
type StoreClass = new (options?: object) => Store;
const A: StoreClass = (await import(`${baseDir}/src/kv/store.ts`)).KvStore;
const B: StoreClass = (await import(`${newDir}/src/kv/store.ts`)).KvStore;
const cpuNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1').split(' ')[0]);
const N = 200_000;
const keys = Array.from({ length: N }, (_, i) => Buffer.from(`key:${String(i).padStart(12, '0')}`));
const value = Buffer.alloc(64, 'v');
const ts = 1_700_000_000_000;

function run(S: StoreClass, options: object): [create: number, overwrite: number] {
  const s = new S(options);
  let index = 0;
  let t = cpuNs();
  for (let i = 0; i < N; i++) s.apply({ ts, ops: [{ type: 'set', key: keys[i], value }] }, ++index);
  const create = (cpuNs() - t) / N;
  t = cpuNs();
  for (let r = 0; r < 2; r++) for (let i = 0; i < N; i++) s.apply({ ts, ops: [{ type: 'set', key: keys[i], value }] }, ++index);
  return [create, (cpuNs() - t) / (2 * N)];
}

const runs: Record<'base' | 'new', [number, number][]> = { base: [], new: [] };
for (let round = 0; round < 30; round++) {
  const order: ['base' | 'new', StoreClass, object][] = [
    ['base', A, {}],
    ['new', B, process.env.COUNT ? { countSlots: true } : {}],
  ];
  if (round % 2) order.reverse();
  for (const [name, S, options] of order) runs[name].push(run(S, options));
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
for (const name of ['base', 'new'] as const) {
  const r = runs[name].slice(2); // warm-up
  console.log(
    `${name}: create ${median(r.map((x) => x[0])).toFixed(0)} ns/SET, overwrite ${median(r.map((x) => x[1])).toFixed(0)} ns/SET (medians of ${r.length})`,
  );
}
