/**
 * A linearizability checker for histories of independent registers (read, write, compare-and-set),
 * in the style of Porcupine. Keys are independent registers, so a history is linearizable exactly
 * when every key's sub-history is (locality, Herlihy & Wing); each key is searched on its own
 * (see register-search.ts).
 *
 * `fail` operations are dropped (they did not happen). `info` operations never return: they may
 * take effect at any point after their call, or not at all.
 */
import { describeOp, type HistoryOp, OpKind, OpStatus, type RegisterValue, show } from './history.ts';
import { type LinearizedStep, searchRegister, shape } from './register-search.ts';

export type { LinearizedStep } from './register-search.ts';

export interface CheckOptions {
  /** The value of every key before the history starts (default: absent, `null`). */
  initial?: (key: string) => RegisterValue;
  /** Shrink the failing key's history to a small counterexample (default: true). */
  minimize?: boolean;
}

export interface Counterexample {
  key: string;
  /**
   * A sub-history of the key that is still not linearizable. It was reached only by moves that
   * can never turn a linearizable history into one that is not (dropping reads, relaxing
   * completed writes to `info`, cutting everything that began after the violation), so it is a
   * genuine witness against the full history.
   */
  ops: HistoryOp[];
  /** The longest legal order the search found for `ops` before it got stuck. */
  partial: LinearizedStep[];
  /** An operation that could not be placed after `partial` before it returned. */
  stuck: HistoryOp;
}

export interface LinearizabilityResult {
  ok: boolean;
  /** Keys and operations checked (after dropping `fail` operations). */
  keys: number;
  ops: number;
  /** The first key (in order of first appearance) whose history is not linearizable. */
  key?: string;
  counterexample?: Counterexample;
}

export function checkLinearizability(history: readonly HistoryOp[], options: CheckOptions = {}): LinearizabilityResult {
  const initial = options.initial ?? (() => null);
  const byKey = new Map<string, HistoryOp[]>();
  let ops = 0;
  for (const op of history) {
    if (op.status === OpStatus.Fail) continue;
    let list = byKey.get(op.key);
    if (!list) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
    ops++;
  }
  for (const [key, keyOps] of byKey) {
    const init = initial(key);
    const verdict = searchRegister(keyOps, init, Number.POSITIVE_INFINITY);
    if (verdict.kind !== 'illegal') continue;
    let witness = keyOps;
    let final = verdict;
    if (options.minimize !== false) {
      witness = minimize(keyOps, init, verdict.stuck, verdict.steps);
      const again = searchRegister(witness, init, Number.POSITIVE_INFINITY);
      if (again.kind !== 'illegal') throw new Error('linearizability minimizer lost the violation');
      final = again;
    }
    const counterexample = { key, ops: shape(witness, init).ops, partial: final.partial, stuck: final.stuck };
    return { ok: false, keys: byKey.size, ops, key, counterexample };
  }
  return { ok: true, keys: byKey.size, ops };
}

/** Operations listed around the stuck one when a witness could not be shrunk further. */
const REPORT_OPS = 40;

/** A multi-line, human-readable account of a counterexample, for test and simulator reports. */
export function formatCounterexample(c: Counterexample): string {
  const ops = [...c.ops].sort((a, b) => a.call - b.call);
  let shown = ops;
  let header = `key ${JSON.stringify(c.key)} is not linearizable; a minimal witness:`;
  if (ops.length > REPORT_OPS) {
    const at = Math.max(0, ops.indexOf(c.stuck));
    const from = Math.max(0, Math.min(at - REPORT_OPS / 2, ops.length - REPORT_OPS));
    shown = ops.slice(from, from + REPORT_OPS);
    header = `key ${JSON.stringify(c.key)} is not linearizable; ${REPORT_OPS} of the ${ops.length} ops of the witness, around the stuck one:`;
  }
  const lines = [header];
  for (const op of shown) lines.push(`  ${describeOp(op)}`);
  const partial = c.partial.slice(-REPORT_OPS);
  lines.push(`longest legal order found${partial.length < c.partial.length ? ` (last ${partial.length} of ${c.partial.length})` : ''}:`);
  for (const s of partial) lines.push(`  ${describeOp(s.op)}   => ${show(s.after)}`);
  if (c.partial.length === 0) lines.push('  (none)');
  lines.push(`stuck: no legal place for ${describeOp(c.stuck)}`);
  return lines.join('\n');
}

const isReadLike = (o: HistoryOp) => o.status === OpStatus.Ok && (o.op === OpKind.Read || (o.op === OpKind.Cas && !o.output));
const isDefiniteWrite = (o: HistoryOp) => o.status === OpStatus.Ok && (o.op === OpKind.Write || (o.op === OpKind.Cas && !!o.output));
const relax = (o: HistoryOp): HistoryOp => ({ ...o, status: OpStatus.Info });

/**
 * Cuts everything that began after `t`: operations still running at `t` that read the register
 * are dropped (reads) or relaxed (successful CAS). In a legal order of the full history, every
 * operation placed after one that began after `t` either returned after `t` or is one of those,
 * so nothing left observes the cut operations and the restriction stays legal.
 */
function cutAfter(ops: readonly HistoryOp[], t: number): HistoryOp[] {
  const out: HistoryOp[] = [];
  for (const o of ops) {
    if (o.call > t) continue;
    const running = o.status === OpStatus.Info || o.return > t;
    if (running && isReadLike(o)) continue;
    // A running INCR's result may depend on what was cut: it keeps only its effect.
    out.push(running && (isDefiniteWrite(o) || o.op === OpKind.Incr) ? relax(o) : o);
  }
  return out;
}

/** Total search steps the minimizer may spend (about a second or two). */
const MINIMIZE_STEPS = 3_000_000;

/**
 * Shrinks an illegal key history with the moves described on `Counterexample.ops`, keeping a
 * move when the result is still illegal within a search budget (so the witness stays a proof).
 * Chunked like ddmin: halves first, then smaller pieces. The total work is capped, so a huge
 * history may come back only partly shrunk; the report then shows the ops around `stuck`.
 */
function minimize(ops: HistoryOp[], init: RegisterValue, stuck: HistoryOp, foundIn: number): HistoryOp[] {
  let spent = 0;
  const illegal = (h: readonly HistoryOp[]) => {
    const budget = Math.min(2 * foundIn + 10_000, MINIMIZE_STEPS - spent);
    if (budget <= 0) return false;
    const v = searchRegister(h, init, budget);
    spent += v.steps;
    return v.kind === 'illegal';
  };
  let current = ops;
  const cut = cutAfter(current, stuck.status === OpStatus.Info ? stuck.call : stuck.return);
  if (cut.length < current.length && illegal(cut)) current = cut;
  current = reduce(current, isReadLike, () => null, illegal);
  return reduce(current, isDefiniteWrite, relax, illegal);
}

/**
 * Applies `move` (null = remove) to as many `eligible` operations as possible while `illegal`
 * holds, trying chunks of halving size.
 */
function reduce(
  ops: HistoryOp[],
  eligible: (o: HistoryOp) => boolean,
  move: (o: HistoryOp) => HistoryOp | null,
  illegal: (h: readonly HistoryOp[]) => boolean,
): HistoryOp[] {
  let current = ops;
  let candidates = current.filter(eligible);
  for (let chunk = Math.ceil(candidates.length / 2); ; chunk = Math.ceil(chunk / 2)) {
    for (let start = 0; start < candidates.length; ) {
      const moving = new Set(candidates.slice(start, start + chunk));
      const trial: HistoryOp[] = [];
      for (const o of current) {
        if (!moving.has(o)) trial.push(o);
        else {
          const moved = move(o);
          if (moved) trial.push(moved);
        }
      }
      if (illegal(trial)) {
        current = trial;
        candidates = candidates.filter((o) => !moving.has(o));
      } else {
        start += chunk;
      }
    }
    if (chunk <= 1) break;
  }
  return current;
}
