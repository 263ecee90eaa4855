/**
 * Bytes per element and time per operation of the collection structures (for the report and
 * docs/performance.md "Collections"; not a test). Also a minimal Redis-style skiplist with spans
 * (zslInsert/zslGetRank, levels p = 1/4) to compare against the B+tree the sorted set uses.
 * Run: node --expose-gc --import tsx test/kv/structs/structs.bench.ts [--sizes 100000,1000000]
 */
import { Buffer } from 'node:buffer';
import { mulberry32 } from '../../../src/kv/prng.ts';
import { Deque } from '../../../src/kv/structs/deque.ts';
import { Hash } from '../../../src/kv/structs/hash.ts';
import { MemberSet } from '../../../src/kv/structs/set.ts';
import { SortedSet } from '../../../src/kv/structs/zset.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.warn('run with node --expose-gc for memory numbers');
const sizesArg = process.argv.indexOf('--sizes');
const SIZES = sizesArg > 0 ? process.argv[sizesArg + 1].split(',').map(Number) : [100_000, 1_000_000];

// ---- the comparison skiplist (Redis t_zset.c, reduced to insert and rank) ----
interface SkipNode {
  member: string;
  score: number;
  backward: SkipNode | null;
  forward: (SkipNode | null)[];
  span: number[];
}
class SkipList {
  private head: SkipNode = { member: '', score: 0, backward: null, forward: new Array(32).fill(null), span: new Array(32).fill(0) };
  private level = 1;
  length = 0;
  private rng = mulberry32(1);
  private randomLevel(): number {
    let l = 1;
    while (this.rng() < 0.25 && l < 32) l++;
    return l;
  }
  insert(score: number, member: string): void {
    const update: SkipNode[] = new Array(32);
    const rank: number[] = new Array(32).fill(0);
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1];
      for (let f = x.forward[i]; f && (f.score < score || (f.score === score && f.member < member)); f = x.forward[i]) {
        rank[i] += x.span[i];
        x = f;
      }
      update[i] = x;
    }
    const level = this.randomLevel();
    if (level > this.level) {
      for (let i = this.level; i < level; i++) {
        rank[i] = 0;
        update[i] = this.head;
        update[i].span[i] = this.length;
      }
      this.level = level;
    }
    const node: SkipNode = { member, score, backward: null, forward: new Array(level), span: new Array(level) };
    for (let i = 0; i < level; i++) {
      node.forward[i] = update[i].forward[i];
      update[i].forward[i] = node;
      node.span[i] = update[i].span[i] - (rank[0] - rank[i]);
      update[i].span[i] = rank[0] - rank[i] + 1;
    }
    for (let i = level; i < this.level; i++) update[i].span[i]++;
    node.backward = update[0] === this.head ? null : update[0];
    this.length++;
  }
  rank(score: number, member: string): number {
    let r = 0;
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      for (let f = x.forward[i]; f && (f.score < score || (f.score === score && f.member <= member)); f = x.forward[i]) {
        r += x.span[i];
        x = f;
      }
      if (x.member === member && x !== this.head) return r - 1;
    }
    return -1;
  }
}

/** V8 heap plus ArrayBuffers: the hash's and set's position index (position-index.ts) lives in typed arrays, outside the heap. */
function heap(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Heap bytes per element of what build() returns, with the member strings made beforehand. */
function perElement(label: string, n: number, build: () => unknown): void {
  const before = heap();
  const keep = build();
  const after = heap();
  console.log(`${label.padEnd(40)} ${((after - before) / n).toFixed(1).padStart(7)} B/elem (member strings excluded)`);
  void keep;
}

function time(label: string, ops: number, fn: (i: number) => void): void {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / ops;
  console.log(`${label.padEnd(40)} ${ns.toFixed(0).padStart(7)} ns/op`);
}

/** A flat one-byte string, as the keyspace's binary strings are (a template literal makes a rope). */
const flat = (i: number) => Buffer.from(`member:${String(i).padStart(8, '0')}`).toString('latin1');

const stringBytes = (() => {
  const before = heap();
  const s = Array.from({ length: 100_000 }, (_, i) => flat(i));
  const after = heap();
  void s;
  return (after - before) / 100_000 - 8; // minus the array slot
})();
console.log(`one 15-byte member string: ${stringBytes.toFixed(1)} heap bytes`);

// Small collections (compact encodings): 2000 of 1 member (the fixed cost) and of 64 members.
{
  const members = Array.from({ length: 64 * 2000 }, (_, i) => flat(i));
  const ints = members.map((_, i) => Buffer.from(String(i * 37)).toString('latin1'));
  const small: Array<[string, (c: number, size: number) => unknown]> = [
    [
      'zset listpack',
      (c, size) => {
        const z = new SortedSet();
        for (let k = 0; k < size; k++) z.set(members[c * 64 + k], k / 8);
        return z;
      },
    ],
    [
      'hash listpack',
      (c, size) => {
        const h = new Hash();
        for (let k = 0; k < size; k++) h.set(members[c * 64 + k], members[c * 64 + k]);
        return h;
      },
    ],
    [
      'set intset',
      (c, size) => {
        const s = new MemberSet();
        for (let k = 0; k < size; k++) s.add(ints[c * 64 + k]);
        return s;
      },
    ],
    [
      'set hashtable (small)',
      (c, size) => {
        const s = new MemberSet();
        for (let k = 0; k < size; k++) s.add(members[c * 64 + k]);
        return s;
      },
    ],
    [
      'deque (small)',
      (c, size) => {
        const d = new Deque();
        for (let k = 0; k < size; k++) d.pushBack(members[c * 64 + k]);
        return d;
      },
    ],
  ];
  let keep: unknown[] = [];
  for (const [label, make] of small) {
    keep = [];
    let b0 = heap();
    keep = Array.from({ length: 2000 }, (_, c) => make(c, 1));
    const one = (heap() - b0) / 2000;
    keep = [];
    b0 = heap();
    keep = Array.from({ length: 2000 }, (_, c) => make(c, 64));
    const per = ((heap() - b0) / 2000 - one) / 63;
    console.log(`${label.padEnd(40)} ${one.toFixed(0).padStart(5)} B with 1 member, then ${per.toFixed(1)} B/elem (strings excluded)`);
    void keep;
  }
}

for (const n of SIZES) {
  console.log(`\n== n = ${n} (members "member:%08d", 15 bytes; scores random doubles) ==`);
  const members = Array.from({ length: n }, (_, i) => flat(i));
  const rng = mulberry32(7);
  const scores = members.map(() => Math.floor(rng() * 1e6) / 8);
  const order = members.map((_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }

  perElement('zset (Map + B+tree)', n, () => {
    const z = new SortedSet();
    for (const i of order) z.set(members[i], scores[i]);
    return z;
  });
  perElement('skiplist with spans (comparison)', n, () => {
    const s = new SkipList();
    for (const i of order) s.insert(scores[i], members[i]);
    return s;
  });
  perElement('Map member -> score alone', n, () => {
    const m = new Map<string, number>();
    for (const i of order) m.set(members[i], scores[i]);
    return m;
  });
  // The deque packs copies of its elements, so it is measured holding strings of its own (the
  // fresh ones die once packed): this line includes the 15 element bytes.
  perElement('deque (pushBack), elements INCLUDED', n, () => {
    const d = new Deque();
    for (let i = 0; i < n; i++) d.pushBack(flat(i));
    return d;
  });
  perElement('hash (hashtable, values shared)', n, () => {
    const h = new Hash();
    for (const m of members) h.set(m, m);
    return h;
  });
  perElement('set (hashtable)', n, () => {
    const s = new MemberSet();
    for (const m of members) s.add(m);
    return s;
  });

  const z = new SortedSet();
  time('zset add (random order)', n, (k) => z.set(members[order[k]], scores[order[k]]));
  const sl = new SkipList();
  time('skiplist insert (random order)', n, (k) => sl.insert(scores[order[k]], members[order[k]]));
  const probes = Math.min(n, 200_000);
  time('zset score', probes, (k) => z.score(members[order[k]]));
  time('zset rank', probes, (k) => z.rank(members[order[k]]));
  time('skiplist rank', probes, (k) => sl.rank(scores[order[k]], members[order[k]]));
  time('zset range by rank, 10 items', probes, (k) => z.rangeByRank(order[k], order[k] + 9));
  time('zset range by score, LIMIT 0 10', probes, (k) =>
    z.rangeByScore({ score: scores[order[k]], exclusive: false }, { score: Number.POSITIVE_INFINITY, exclusive: false }, false, {
      offset: 0,
      count: 10,
    }),
  );
  time('zset count by score', probes, (k) =>
    z.countByScore({ score: scores[order[k]], exclusive: true }, { score: scores[order[k]] + 1000, exclusive: false }),
  );
  time('zset update score', probes, (k) => z.set(members[order[k]], scores[order[k]] + 1));
  time('zset remove', n, (k) => z.remove(members[order[k]]));

  const d = new Deque();
  time('deque pushBack', n, (k) => d.pushBack(members[k]));
  time('deque get(i)', probes, (k) => d.get(order[k]));
  time('deque popFront', n, () => d.popFront());
  const h = new Hash();
  time('hash set (new field)', n, (k) => h.set(members[k], members[k]));
  time('hash get', probes, (k) => h.get(members[order[k]]));
  time('hash delete', n, (k) => h.delete(members[order[k]]));
  const s = new MemberSet();
  time('set add', n, (k) => s.add(members[k]));
  time('set has', probes, (k) => s.has(members[order[k]]));
  const r = mulberry32(3);
  time('set random(1)', probes, () => s.random(r, 1));
  time('set delete', n, (k) => s.delete(members[order[k]]));
}
