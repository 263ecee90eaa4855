/**
 * The large sorted set's order: an order-statistic B+tree of (score, member) pairs, sorted by
 * score, then member bytewise (Redis's rule; members are latin1 strings, so JS's code unit
 * order is byte order). -0 and +0 compare equal, as in C.
 *
 * Why a B+tree and not Redis's skiplist: a skiplist node in V8 is an object with a forward
 * array and a span array, 198 heap bytes per element measured (the skiplist alone); a leaf
 * here holds up to NODE_MAX pairs in two plain arrays (unboxed doubles, member references), so
 * the whole sorted set, Map and position arrays included, costs 84, and a lookup touches
 * ~log64(n) nodes instead of ~log2(n) objects (2-3x faster: docs/performance.md,
 * "Collections"). Inner nodes keep each child's size (rank and select in O(log n)) and its
 * first pair (the descent).
 *
 * Positions: everything here is by rank (0-based). Callers find ranks with `countBefore`, a
 * monotone predicate that is true for a prefix of the order ("is this pair before the bound"),
 * so one descent serves ranks, score bounds and lex bounds alike. Leaves are linked both ways
 * so a range walks on in O(1) per element. Pure: no clock, no randomness.
 */

/** Widest node (pairs in a leaf, children in an inner node); tests pass 4 to get deep trees. */
export const NODE_MAX = 64;

/** True for the pairs before some bound; must be true for a prefix of the order only. */
export type Before = (score: number, member: string) => boolean;

class Leaf {
  scores: number[] = [];
  members: string[] = [];
  prev: Leaf | null = null;
  next: Leaf | null = null;
}

class Inner {
  children: Node[] = [];
  sizes: number[] = [];
  /** Each child's first pair. */
  firstScores: number[] = [];
  firstMembers: string[] = [];
}

type Node = Leaf | Inner;

function nodeSize(n: Node): number {
  if (n instanceof Leaf) return n.scores.length;
  let s = 0;
  for (const x of n.sizes) s += x;
  return s;
}

function width(n: Node): number {
  return n instanceof Leaf ? n.scores.length : n.children.length;
}

function firstScore(n: Node): number {
  return n instanceof Leaf ? n.scores[0] : n.firstScores[0];
}

function firstMember(n: Node): string {
  return n instanceof Leaf ? n.members[0] : n.firstMembers[0];
}

/** (s1, m1) < (s2, m2) in zset order. */
export function pairLess(s1: number, m1: string, s2: number, m2: string): boolean {
  return s1 < s2 || (s1 === s2 && m1 < m2);
}

/** A position: a leaf and an index in it, or null past either end. */
export interface Cursor {
  leaf: Leaf;
  i: number;
}

export class ScoreTree {
  private root: Node = new Leaf();
  private count = 0;
  private head: Leaf;
  private tail: Leaf;

  /** Below `min` a node is merged with a neighbour (and split again if the pair is too wide). */
  private readonly min: number;

  constructor(private readonly max = NODE_MAX) {
    this.head = this.tail = this.root as Leaf;
    // At least 2, so that a node left with one child (or one pair) is merged, never kept.
    this.min = Math.max(2, max >> 2);
  }

  get size(): number {
    return this.count;
  }

  /** Number of pairs for which `before` holds (the rank of the first pair where it fails). */
  countBefore(before: Before): number {
    let node = this.root;
    let rank = 0;
    while (node instanceof Inner) {
      // Last child whose first pair is before the bound: every pair of earlier children is too.
      const inner = node;
      const i = lastTrue(inner.children.length, (k) => before(inner.firstScores[k], inner.firstMembers[k]));
      if (i < 0) return rank;
      for (let k = 0; k < i; k++) rank += inner.sizes[k];
      node = inner.children[i];
    }
    const leaf = node as Leaf;
    return rank + lastTrue(leaf.scores.length, (k) => before(leaf.scores[k], leaf.members[k])) + 1;
  }

  /** Rank of (score, member) if present, else -1. */
  rank(score: number, member: string): number {
    const r = this.countBefore((s, m) => pairLess(s, m, score, member));
    const c = this.at(r);
    return c && c.leaf.scores[c.i] === score && c.leaf.members[c.i] === member ? r : -1;
  }

  /** The cursor at rank r, or null when r is out of [0, size). */
  at(r: number): Cursor | null {
    if (r < 0 || r >= this.count) return null;
    let node = this.root;
    while (node instanceof Inner) {
      let k = 0;
      while (r >= node.sizes[k]) r -= node.sizes[k++];
      node = node.children[k];
    }
    return { leaf: node as Leaf, i: r };
  }

  /** Calls fn for ranks from..from+n-1 (forwards) or from..from-n+1 (backwards); stops early when fn returns false. */
  walk(from: number, n: number, reverse: boolean, fn: (score: number, member: string) => boolean | undefined): void {
    const c = this.at(from);
    if (!c) return;
    let leaf: Leaf | null = c.leaf;
    let i = c.i;
    while (n-- > 0 && leaf) {
      if (fn(leaf.scores[i], leaf.members[i]) === false) return;
      if (reverse) {
        if (--i < 0) {
          leaf = leaf.prev;
          if (leaf) i = leaf.scores.length - 1;
        }
      } else if (++i >= leaf.scores.length) {
        leaf = leaf.next;
        i = 0;
      }
    }
  }

  insert(score: number, member: string): void {
    const split = this.insertAt(this.root, score, member);
    if (split) {
      const root = new Inner();
      for (const n of [this.root, split]) this.pushChild(root, n, nodeSize(n));
      this.root = root;
    }
    this.count++;
  }

  /** Removes the pair; returns false when it is not there. */
  delete(score: number, member: string): boolean {
    if (!this.deleteAt(this.root, score, member)) return false;
    this.count--;
    while (this.root instanceof Inner && this.root.children.length === 1) this.root = this.root.children[0];
    return true;
  }

  private pushChild(parent: Inner, child: Node, size: number): void {
    parent.children.push(child);
    parent.sizes.push(size);
    parent.firstScores.push(firstScore(child));
    parent.firstMembers.push(firstMember(child));
  }

  /** Inserts under node; returns the new right sibling when node split. */
  private insertAt(node: Node, score: number, member: string): Node | null {
    if (node instanceof Leaf) {
      const i = lastTrue(node.scores.length, (k) => pairLess(node.scores[k], node.members[k], score, member)) + 1;
      node.scores.splice(i, 0, score);
      node.members.splice(i, 0, member);
      if (node.scores.length <= this.max) return null;
      return this.splitLeaf(node);
    }
    let i = lastTrue(node.children.length, (k) => pairLess(node.firstScores[k], node.firstMembers[k], score, member));
    if (i < 0) i = 0;
    const child = node.children[i];
    const split = this.insertAt(child, score, member);
    node.sizes[i]++;
    node.firstScores[i] = firstScore(child);
    node.firstMembers[i] = firstMember(child);
    if (split) {
      const size = nodeSize(split);
      node.sizes[i] -= size;
      node.children.splice(i + 1, 0, split);
      node.sizes.splice(i + 1, 0, size);
      node.firstScores.splice(i + 1, 0, firstScore(split));
      node.firstMembers.splice(i + 1, 0, firstMember(split));
    }
    if (node.children.length <= this.max) return null;
    return this.splitInner(node);
  }

  private splitLeaf(leaf: Leaf): Leaf {
    const half = leaf.scores.length >> 1;
    const right = new Leaf();
    right.scores = leaf.scores.splice(half);
    right.members = leaf.members.splice(half);
    right.next = leaf.next;
    right.prev = leaf;
    if (leaf.next) leaf.next.prev = right;
    else this.tail = right;
    leaf.next = right;
    return right;
  }

  private splitInner(node: Inner): Inner {
    const half = node.children.length >> 1;
    const right = new Inner();
    right.children = node.children.splice(half);
    right.sizes = node.sizes.splice(half);
    right.firstScores = node.firstScores.splice(half);
    right.firstMembers = node.firstMembers.splice(half);
    return right;
  }

  private deleteAt(node: Node, score: number, member: string): boolean {
    if (node instanceof Leaf) {
      const i = lastTrue(node.scores.length, (k) => pairLess(node.scores[k], node.members[k], score, member)) + 1;
      if (i >= node.scores.length || node.scores[i] !== score || node.members[i] !== member) return false;
      node.scores.splice(i, 1);
      node.members.splice(i, 1);
      return true;
    }
    let i = lastTrue(node.children.length, (k) => pairLess(node.firstScores[k], node.firstMembers[k], score, member));
    // The pair may be some child's first: then "before" fails for it and i is the child before.
    if (i + 1 < node.children.length && node.firstScores[i + 1] === score && node.firstMembers[i + 1] === member) i++;
    if (i < 0) return false;
    const child = node.children[i];
    if (!this.deleteAt(child, score, member)) return false;
    node.sizes[i]--;
    if (width(child) > 0) {
      node.firstScores[i] = firstScore(child);
      node.firstMembers[i] = firstMember(child);
    }
    if (width(child) < this.min && node.children.length > 1) this.rebalance(node, i);
    return true;
  }

  /** Merges child i with a neighbour, splitting the result again when it is too wide. */
  private rebalance(parent: Inner, i: number): void {
    const l = i > 0 ? i - 1 : i;
    const left = parent.children[l];
    const right = parent.children[l + 1];
    if (left instanceof Leaf && right instanceof Leaf) {
      left.scores.push(...right.scores);
      left.members.push(...right.members);
      left.next = right.next;
      if (right.next) right.next.prev = left;
      else this.tail = left;
      this.removeChild(parent, l + 1);
      parent.sizes[l] = left.scores.length;
      if (left.scores.length > this.max) this.reinsert(parent, l, this.splitLeaf(left));
    } else {
      const a = left as Inner;
      const b = right as Inner;
      a.children.push(...b.children);
      a.sizes.push(...b.sizes);
      a.firstScores.push(...b.firstScores);
      a.firstMembers.push(...b.firstMembers);
      this.removeChild(parent, l + 1);
      parent.sizes[l] = nodeSize(a);
      if (a.children.length > this.max) this.reinsert(parent, l, this.splitInner(a));
    }
    const merged = parent.children[l];
    if (width(merged) > 0) {
      parent.firstScores[l] = firstScore(merged);
      parent.firstMembers[l] = firstMember(merged);
    }
  }

  private removeChild(parent: Inner, k: number): void {
    parent.children.splice(k, 1);
    parent.sizes.splice(k, 1);
    parent.firstScores.splice(k, 1);
    parent.firstMembers.splice(k, 1);
  }

  private reinsert(parent: Inner, l: number, split: Node): void {
    const size = nodeSize(split);
    parent.sizes[l] -= size;
    parent.children.splice(l + 1, 0, split);
    parent.sizes.splice(l + 1, 0, size);
    parent.firstScores.splice(l + 1, 0, firstScore(split));
    parent.firstMembers.splice(l + 1, 0, firstMember(split));
  }

  /** For tests: checks sizes, first pairs, order, fill and the leaf chain; throws on a fault. */
  check(): void {
    const seen: Array<[number, string]> = [];
    const visit = (n: Node, isRoot: boolean): number => {
      if (n instanceof Leaf) {
        if (!isRoot && n.scores.length < 1) throw new Error('empty leaf');
        for (let k = 0; k < n.scores.length; k++) seen.push([n.scores[k], n.members[k]]);
        return n.scores.length;
      }
      let total = 0;
      for (let k = 0; k < n.children.length; k++) {
        const c = n.children[k];
        const s = visit(c, false);
        if (s !== n.sizes[k]) throw new Error(`size ${n.sizes[k]} != ${s}`);
        if (n.firstScores[k] !== firstScore(c) || n.firstMembers[k] !== firstMember(c)) throw new Error('first pair');
        total += s;
      }
      return total;
    };
    if (visit(this.root, true) !== this.count) throw new Error('count');
    for (let k = 1; k < seen.length; k++) {
      if (!pairLess(seen[k - 1][0], seen[k - 1][1], seen[k][0], seen[k][1])) throw new Error('order');
    }
    let k = 0;
    for (let leaf: Leaf | null = this.head; leaf; leaf = leaf.next) {
      for (let j = 0; j < leaf.scores.length; j++, k++) {
        if (leaf.members[j] !== seen[k][1]) throw new Error('leaf chain');
      }
      if (leaf.next === null && leaf !== this.tail) throw new Error('tail');
    }
    if (k !== seen.length) throw new Error('leaf chain length');
  }
}

/** Largest k in [0, n) with pred(k) true, for pred true on a prefix; -1 when none. */
function lastTrue(n: number, pred: (k: number) => boolean): number {
  let lo = 0;
  let hi = n; // pred true below lo, false from hi
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
