/**
 * The search behind the linearizability checker, for the history of one register: Wing & Gong's
 * algorithm with Lowe's memoization of (set of linearized operations, register value), as in
 * Porcupine, plus three reductions that are exact (they never change the verdict) and keep
 * histories with many indeterminate operations tractable:
 *
 * - values nobody observed are interchangeable, so the memo stores them as one value;
 * - a write must take effect before the first read that returns its value, so a write whose
 *   value is written by no other operation gets that read's return as a deadline (an
 *   indeterminate write otherwise never returns and would stay concurrent with everything);
 * - indeterminate writes of unobserved values are interchangeable too, so they are used in call
 *   order, or dropped when no failed CAS could tell that they happened.
 */
import { counterValue, describeOp, type HistoryOp, OpKind, OpStatus, type RegisterValue, show } from './history.ts';

export interface LinearizedStep {
  op: HistoryOp;
  /** The register value after this operation. */
  after: RegisterValue;
}

export type Verdict =
  | { kind: 'ok'; steps: number }
  | { kind: 'illegal'; steps: number; partial: LinearizedStep[]; stuck: HistoryOp }
  | { kind: 'budget'; steps: number };

const ILLEGAL = Symbol('illegal');

/** The register's sequential specification: the value after `op`, or ILLEGAL. */
function apply(state: RegisterValue, op: HistoryOp): RegisterValue | typeof ILLEGAL {
  switch (op.op) {
    case OpKind.Read:
      return state === (op.output ?? null) ? state : ILLEGAL;
    case OpKind.Write:
      return op.input;
    case OpKind.Cas: {
      const matches = state === op.input.expect;
      // An indeterminate CAS that found another value is a no-op, like one that never ran.
      if (op.status === OpStatus.Info) return matches ? op.input.value : state;
      if (op.output) return matches ? op.input.value : ILLEGAL;
      return matches ? ILLEGAL : state;
    }
    case OpKind.Incr: {
      const n = counterValue(state);
      const after = n === undefined ? state : String(n + 1);
      if (op.status === OpStatus.Info) return after;
      if (n === undefined) return op.output === 'error' ? state : ILLEGAL;
      return op.output === n + 1 ? after : ILLEGAL;
    }
  }
}

/**
 * Values nobody observed look alike to reads, writes and CAS; not to INCR, whose result depends
 * on the exact value. A key with an INCR in its history treats every value as observed.
 */
const EVERY_VALUE = { has: () => true, add: () => EVERY_VALUE } as unknown as Set<RegisterValue>;

const INCR = Symbol('incr');

const written = (o: HistoryOp): RegisterValue | undefined => (o.op === OpKind.Write ? o.input : o.op === OpKind.Cas ? o.input.value : undefined);

/** A key's history prepared for the search. */
export interface Shape {
  ops: HistoryOp[];
  /** Latest time each op may take effect: its return, tightened by the deadline rule; Infinity for `info`. */
  due: number[];
  /** Values some read returned or some CAS expects; all others look alike to every operation. */
  observed: Set<RegisterValue>;
  /** Indices into `ops` of indeterminate plain writes of unobserved values, in call order. */
  blind: number[];
  /**
   * Further groups of interchangeable indeterminate operations, each in call order: writes of
   * one observed value, compare-and-sets with the same arguments, and INCRs. Which of a group's operations took effect cannot matter,
   * only how many (an earlier call can stand in for a later one anywhere), so each group is
   * used in call order, which keeps a history full of timeouts from 2^k subsets.
   */
  groups: number[][];
}

/**
 * Drops operations that cannot change the verdict (indeterminate reads; indeterminate writes of
 * unobserved values that no failed CAS could follow: wherever they sit, the next write must come
 * before any read or successful CAS) and computes deadlines.
 */
export function shape(all: readonly HistoryOp[], init: RegisterValue): Shape {
  // Dropping an indeterminate CAS can leave a value unobserved, so repeat until nothing changes.
  let ops = all.slice();
  let facts = survey(ops);
  const hasIncr = ops.some((o) => o.op === OpKind.Incr);
  for (;;) {
    const { lastFailedCas } = facts;
    const observed = hasIncr ? EVERY_VALUE : facts.observed;
    const kept = ops.filter((o) => {
      if (o.status !== OpStatus.Info) return true;
      if (o.op === OpKind.Read) return false;
      return observed.has(written(o)!) || lastFailedCas >= o.call;
    });
    if (kept.length === ops.length) break;
    ops = kept;
    facts = survey(ops);
  }
  const { firstSeen, writers } = facts;
  const observed = hasIncr ? EVERY_VALUE : facts.observed;
  const due = ops.map((o) => {
    const ret = o.status === OpStatus.Info ? Number.POSITIVE_INFINITY : o.return;
    if (!(ret >= o.call)) throw new RangeError(`operation returns before its call: ${describeOp(o)}`);
    const w = written(o);
    // An INCR may produce an integer value too: then its writer is not the only one.
    if (w === undefined || w === init || writers.get(w) !== 1 || (hasIncr && counterValue(w) !== undefined)) return ret;
    const deadline = firstSeen.get(w);
    // A read of the value that returned before this write began is illegal whatever we pick.
    return deadline === undefined ? ret : Math.max(o.call, Math.min(ret, deadline));
  });
  const blind = ops
    .map((_o, i) => i)
    .filter((i) => ops[i].status === OpStatus.Info && ops[i].op === OpKind.Write && !observed.has(written(ops[i])!))
    .sort((a, b) => ops[a].call - ops[b].call);
  const byValue = new Map<string | typeof INCR, number[]>();
  ops.forEach((o, i) => {
    if (o.status !== OpStatus.Info || blind.includes(i)) return;
    let group: string | typeof INCR | undefined;
    if (o.op === OpKind.Incr) group = INCR;
    else if (o.op === OpKind.Write) group = `w${show(o.input)}`;
    else if (o.op === OpKind.Cas) group = `c${show(o.input.expect)}${show(o.input.value)}`;
    if (group === undefined) return;
    const list = byValue.get(group) ?? [];
    list.push(i);
    byValue.set(group, list);
  });
  const groups = [...byValue.values()].filter((g) => g.length > 1).map((g) => g.sort((a, b) => ops[a].call - ops[b].call));
  return { ops, due, observed, blind, groups };
}

/** Which values are read or compared, when each is first seen, and who writes them. */
function survey(ops: readonly HistoryOp[]) {
  const observed = new Set<RegisterValue>();
  const firstSeen = new Map<RegisterValue, number>();
  const writers = new Map<RegisterValue, number>();
  let lastFailedCas = Number.NEGATIVE_INFINITY;
  const see = (v: RegisterValue, at: number) => firstSeen.set(v, Math.min(firstSeen.get(v) ?? at, at));
  for (const o of ops) {
    const w = written(o);
    if (w !== undefined) writers.set(w, (writers.get(w) ?? 0) + 1);
    if (o.op === OpKind.Read && o.status === OpStatus.Ok) {
      observed.add(o.output ?? null);
      see(o.output ?? null, o.return);
    }
    if (o.op === OpKind.Cas) {
      observed.add(o.input.expect);
      if (o.status === OpStatus.Ok && o.output) see(o.input.expect, o.return);
      if (o.status === OpStatus.Ok && !o.output) lastFailedCas = Math.max(lastFailedCas, o.return);
    }
  }
  return { observed, firstSeen, writers, lastFailedCas };
}

/** Deterministic 32-bit mixing (splitmix32), for the incremental hash of the linearized set. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Events (calls and deadlines) form a doubly linked list in time order; linearizing an operation
 * lifts its call and deadline out of the list, backtracking puts them back (dancing links).
 * Reaching a deadline whose call is still in the list means the current order cannot be
 * extended, so the search backtracks. `budget` bounds the number of search steps.
 */
export function searchRegister(all: readonly HistoryOp[], init: RegisterValue, budget: number): Verdict {
  const { ops, due, observed, blind, groups } = shape(all, init);
  const n = ops.length;
  if (n === 0) return { kind: 'ok', steps: 0 };
  // Node 0 is the head; op i has call node 2i+1 and deadline node 2i+2.
  const events: { node: number; time: number; isCall: boolean; op: number }[] = [];
  for (let i = 0; i < n; i++) {
    events.push({ node: 2 * i + 1, time: ops[i].call, isCall: true, op: i });
    events.push({ node: 2 * i + 2, time: due[i], isCall: false, op: i });
  }
  // Equal times: calls first, so touching operations count as concurrent (never a false alarm).
  events.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = 0;
  for (const e of events) {
    next[last] = e.node;
    prev[e.node] = last;
    last = e.node;
  }
  const unlink = (x: number) => {
    next[prev[x]] = next[x];
    if (next[x] >= 0) prev[next[x]] = prev[x];
  };
  const relink = (x: number) => {
    next[prev[x]] = x;
    if (next[x] >= 0) prev[next[x]] = x;
  };

  const linearized = new Uint32Array((n + 31) >>> 5);
  const r1 = new Uint32Array(n);
  const r2 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    r1[i] = mix32(2 * i);
    r2[i] = mix32(2 * i + 1);
  }
  let h1 = 0;
  let h2 = 0;
  /** Marks op i placed (+1) or unplaced (-1); blind writes only count. */
  const toggle = (i: number, by: 1 | -1) => {
    if (blindRank[i] >= 0) {
      blindPlaced += by;
      return;
    }
    if (groupOf[i] >= 0) {
      groupPlaced[groupOf[i]] += by;
      groupKey = groupPlaced.join(',');
      return;
    }
    linearized[i >>> 5] ^= 1 << (i & 31);
    h1 ^= r1[i];
    h2 ^= r2[i];
  };
  // Blind writes are placed in call order: blindRank[i] must equal blindPlaced.
  const blindRank = new Int32Array(n).fill(-1);
  blind.forEach((i, rank) => {
    blindRank[i] = rank;
  });
  let blindPlaced = 0;
  // Each group is placed in call order too: groupRank[i] must equal groupPlaced[groupOf[i]].
  const groupOf = new Int32Array(n).fill(-1);
  const groupRank = new Int32Array(n).fill(-1);
  groups.forEach((g, k) => {
    g.forEach((i, rank) => {
      groupOf[i] = k;
      groupRank[i] = rank;
    });
  });
  const groupPlaced = new Int32Array(groups.length);
  let groupKey = groupPlaced.join(',');
  const memo = new Map<string, Uint32Array[]>();
  const memoValue = (v: RegisterValue) => (!observed.has(v) ? '~' : v === null ? '' : `=${v}`);
  /** Records (linearized, blind writes placed, value); true if that state was seen before. */
  const explored = (value: RegisterValue): boolean => {
    const key = `${h1}.${h2}.${blindPlaced}.${groupKey}.${memoValue(value)}`;
    const bucket = memo.get(key);
    if (!bucket) {
      memo.set(key, [linearized.slice()]);
      return false;
    }
    for (const bits of bucket) if (bits.every((word, k) => word === linearized[k])) return true;
    bucket.push(linearized.slice());
    return false;
  };
  /**
   * Indeterminate operations without a deadline may never take effect, so the search is done
   * once every operation with a deadline is placed. A blind write is placed only when the value
   * is an observed one: over an unobserved value it changes nothing but uses up a write.
   */
  let required = due.filter((d) => d !== Number.POSITIVE_INFINITY).length;
  /**
   * An indeterminate compare-and-set that finds another value would change nothing: it is only
   * placed where it takes effect (it may still never happen), which spares the search every
   * subset of no-ops (the simulator's eviction and expiry deletes are such operations).
   */
  const inert = (o: HistoryOp) => o.status === OpStatus.Info && o.op === OpKind.Cas && state !== o.input.expect;
  const placeable = (i: number) =>
    blindRank[i] >= 0 ? blindRank[i] === blindPlaced && observed.has(state) : (groupOf[i] < 0 || groupRank[i] === groupPlaced[groupOf[i]]) && !inert(ops[i]);

  const stack: { op: number; before: RegisterValue }[] = [];
  let state = init;
  let best: { order: { op: number; before: RegisterValue }[]; stuck: number; state: RegisterValue } | null = null;
  let entry = next[0];
  let steps = 0;
  while (required > 0) {
    if (++steps > budget) return { kind: 'budget', steps };
    const i = (entry - 1) >>> 1;
    if (entry % 2 === 1) {
      const after = placeable(i) ? apply(state, ops[i]) : ILLEGAL;
      if (after !== ILLEGAL) {
        toggle(i, 1);
        if (!explored(after)) {
          stack.push({ op: i, before: state });
          state = after;
          if (due[i] !== Number.POSITIVE_INFINITY) required--;
          unlink(entry);
          unlink(entry + 1);
          entry = next[0];
          continue;
        }
        toggle(i, -1);
      }
      entry = next[entry];
      continue;
    }
    // A deadline whose call is still pending: the current order cannot be extended.
    if (!best || stack.length > best.order.length) best = { order: stack.slice(), stuck: i, state };
    const top = stack.pop();
    if (!top) break;
    toggle(top.op, -1);
    if (due[top.op] !== Number.POSITIVE_INFINITY) required++;
    state = top.before;
    const call = 2 * top.op + 1;
    relink(call + 1);
    relink(call);
    entry = next[call];
  }
  if (required === 0) return { kind: 'ok', steps };
  const found = best!;
  const partial = found.order.map((s, k) => ({
    op: ops[s.op],
    after: k + 1 < found.order.length ? found.order[k + 1].before : found.state,
  }));
  return { kind: 'illegal', steps, partial, stuck: ops[found.stuck] };
}
