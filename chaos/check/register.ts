/**
 * The register workload's checks: per-key linearizability with the shared WGL checker
 * (test/support/linearizability.ts), and lost acknowledged writes in the final reads.
 *
 * Translation into the shared model:
 * - GET -> read (only ok reads; a read that failed or timed out constrains nothing);
 * - SET -> write;
 * - SET..GET that returned `old` -> a compare-and-set from `old` that swapped: at its
 *   linearization point the register held `old` and then took the new value, which is exactly
 *   what SET..GET promises. Unanswered, it is an indeterminate write.
 */
import type { HistoryOp } from '../../test/support/history.ts';
import { checkLinearizability, formatCounterexample } from '../../test/support/linearizability.ts';
import { type ChaosOp, OpFn, OpStatus } from '../history/ops.ts';
import { type Anomaly, byKey, type CheckResult } from './result.ts';

type Tagged = HistoryOp & { index: number };

export function toRegisterHistory(ops: readonly ChaosOp[]): Tagged[] {
  const out: Tagged[] = [];
  for (const o of ops) {
    const base = { clientId: o.process, key: o.key, call: o.call, return: o.return, status: o.status, index: o.index };
    if (o.f === OpFn.Get) {
      if (o.status === OpStatus.Ok) out.push({ ...base, op: 'read', output: (o.result ?? null) as string | null });
    } else if (o.f === OpFn.Set || (o.f === OpFn.GetSet && o.status !== OpStatus.Ok)) {
      out.push({ ...base, op: 'write', input: o.value ?? null });
    } else if (o.f === OpFn.GetSet) {
      out.push({ ...base, op: 'cas', input: { expect: (o.result ?? null) as string | null, value: o.value ?? null }, output: true });
    }
  }
  return out;
}

export function checkRegister(ops: readonly ChaosOp[]): CheckResult {
  const anomalies: Anomaly[] = [];
  const history = toRegisterHistory(ops);
  const lin = checkLinearizability(history);
  if (!lin.ok && lin.counterexample) {
    const c = lin.counterexample;
    anomalies.push({
      kind: 'nonlinearizable',
      key: c.key,
      message: `key ${c.key} is not linearizable`,
      ops: c.ops.map((h) => ops[(h as Tagged).index]),
      text: formatCounterexample(c),
    });
  }
  anomalies.push(...lostWrites(ops));
  return { checker: 'register', valid: anomalies.length === 0, anomalies, stats: { keys: lin.keys, checkedOps: lin.ops } };
}

const writesValue = (o: ChaosOp) => (o.f === OpFn.Set || o.f === OpFn.GetSet) && o.status !== OpStatus.Fail;

/**
 * After recovery each key is read once more. The value read must come from a write that no
 * acknowledged write certainly followed (X certainly precedes W when X returned before W was
 * sent); otherwise an acknowledged write was lost.
 */
export function lostWrites(ops: readonly ChaosOp[]): Anomaly[] {
  const out: Anomaly[] = [];
  for (const [key, list] of byKey(ops)) {
    const final = list.filter((o) => o.final && o.f === OpFn.Get && o.status === OpStatus.Ok).sort((a, b) => a.return - b.return)[0];
    if (!final) continue;
    const writes = list.filter((o) => writesValue(o) && o.call < final.return);
    const acked = writes.filter((o) => o.status === OpStatus.Ok);
    const end = (o: ChaosOp) => (o.status === OpStatus.Ok ? o.return : Number.POSITIVE_INFINITY);
    const latest = writes.filter((x) => !acked.some((w) => w !== x && end(x) < w.call));
    const got = (final.result ?? null) as string | null;
    const allowed = new Set<string | null>(latest.map((w) => w.value ?? null));
    if (acked.length === 0) allowed.add(null);
    if (allowed.has(got)) continue;
    const lost = latest.filter((w) => w.status === OpStatus.Ok);
    out.push({
      kind: 'lost-write',
      key,
      message: `final read of ${key} returned ${JSON.stringify(got)}, but the last acknowledged write(s) ${lost.map((w) => `#${w.index}`).join(', ')} were never superseded`,
      ops: [...lost, final],
    });
  }
  return out;
}
