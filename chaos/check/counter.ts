/**
 * The counter workload's checks (INCR and GET on counter keys that start absent, i.e. 0).
 *
 * Every applied INCR yields a distinct value 1, 2, 3, ..., so for each key:
 * - duplicate: two acknowledged INCRs returned the same value;
 * - realtime: an INCR (or read) that finished before another began saw a value at least as
 *   large as the later one (values must grow with real time);
 * - read bounds: a read cannot be below a value an INCR returned before the read began, nor
 *   above the number of INCRs invoked before the read returned;
 * - final (lost or phantom increments): the final value after recovery lies between the number
 *   of acknowledged INCRs and that number plus the indeterminate ones.
 */
import { type ChaosOp, OpFn, OpStatus } from '../history/ops.ts';
import { type Anomaly, byKey, type CheckResult } from './result.ts';

const num = (o: ChaosOp): number => (o.result === null || o.result === undefined ? 0 : Number(o.result));

export function checkCounter(ops: readonly ChaosOp[]): CheckResult {
  const keys = byKey(ops.filter((o) => o.f === OpFn.Incr || o.f === OpFn.Get));
  const anomalies: Anomaly[] = [];
  const stats = { keys: keys.size, acknowledged: 0, indeterminate: 0, final: 0 };
  for (const [key, list] of keys) {
    const incrs = list.filter((o) => o.f === OpFn.Incr);
    const okIncrs = incrs.filter((o) => o.status === OpStatus.Ok);
    const infoIncrs = incrs.filter((o) => o.status === OpStatus.Info);
    const reads = list.filter((o) => o.f === OpFn.Get && o.status === OpStatus.Ok);
    stats.acknowledged += okIncrs.length;
    stats.indeterminate += infoIncrs.length;
    anomalies.push(...duplicates(key, okIncrs), ...realtime(key, [...okIncrs, ...reads]), ...readBounds(key, reads, okIncrs, incrs));
    const finals = reads.filter((o) => o.final);
    if (finals.length === 0) continue;
    const final = finals.reduce((a, b) => (b.return > a.return ? b : a));
    const v = num(final);
    stats.final += v;
    if (v < okIncrs.length || v > okIncrs.length + infoIncrs.length) {
      anomalies.push({
        kind: v < okIncrs.length ? 'lost-increment' : 'phantom-increment',
        key,
        message: `final value of ${key} is ${v}, outside [${okIncrs.length} acknowledged, ${okIncrs.length + infoIncrs.length} acknowledged + indeterminate]`,
        ops: [final],
      });
    }
  }
  return { checker: 'counter', valid: anomalies.length === 0, anomalies, stats };
}

function duplicates(key: string, okIncrs: readonly ChaosOp[]): Anomaly[] {
  const seen = new Map<number, ChaosOp>();
  const out: Anomaly[] = [];
  for (const o of okIncrs) {
    const prev = seen.get(num(o));
    if (prev) out.push({ kind: 'duplicate-increment', key, message: `two INCRs of ${key} both returned ${num(o)}`, ops: [prev, o] });
    else seen.set(num(o), o);
  }
  return out;
}

/**
 * An operation that finished before another began must not see a larger value. INCRs must be
 * strictly smaller than anything after them; a read may equal a later read.
 */
function realtime(key: string, ops: readonly ChaosOp[]): Anomaly[] {
  const byReturn = [...ops].sort((a, b) => a.return - b.return);
  const byCall = [...ops].sort((a, b) => a.call - b.call);
  let best: ChaosOp | undefined;
  let i = 0;
  for (const b of byCall) {
    while (i < byReturn.length && byReturn[i].return < b.call) {
      const a = byReturn[i++];
      if (!best || num(a) > num(best) || (num(a) === num(best) && a.f === OpFn.Incr)) best = a;
    }
    if (!best) continue;
    const bad = b.f === OpFn.Incr ? num(b) <= num(best) : num(b) < num(best);
    if (bad) {
      return [
        {
          kind: 'realtime',
          key,
          message: `${key} went from ${num(best)} back to ${num(b)} although the first finished before the second began`,
          ops: [best, b],
        },
      ];
    }
  }
  return [];
}

/** A read returning v needs v INCRs invoked before it returned. */
function readBounds(key: string, reads: readonly ChaosOp[], okIncrs: readonly ChaosOp[], incrs: readonly ChaosOp[]): Anomaly[] {
  const calls = incrs
    .filter((o) => o.status !== OpStatus.Fail)
    .map((o) => o.call)
    .sort((a, b) => a - b);
  for (const r of reads) {
    const invoked = countBelow(calls, r.return);
    if (num(r) > invoked) {
      const later = okIncrs.filter((o) => o.call >= r.return).slice(0, 1);
      return [{ kind: 'phantom-read', key, message: `a read of ${key} returned ${num(r)} when only ${invoked} INCRs had been sent`, ops: [r, ...later] }];
    }
  }
  return [];
}

/** How many of the sorted `xs` are below `limit` (binary search). */
function countBelow(xs: readonly number[], limit: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
