/**
 * The queue workload's checks, after Jepsen's total-queue: every element is unique (one LPUSH
 * each), so for each queue key:
 * - duplicate: an element popped twice by acknowledged BRPOPs, or popped and still in the list
 *   at the end (popped at most once);
 * - unexpected: an element popped (or left) that no LPUSH ever sent;
 * - lost: an acknowledged LPUSH whose element was neither popped by an acknowledged BRPOP nor
 *   left at the end. An indeterminate BRPOP (no reply: the connection dropped or the reply
 *   timed out) may have taken one element without anyone seeing it, so up to that many missing
 *   elements are counted apart as `indeterminate-pops-took`, not as lost; only more missing
 *   elements than indeterminate pops is an anomaly.
 * Elements of indeterminate LPUSHes that show up are `recovered`; those that do not are fine.
 * A key whose final LRANGE never answered is not judged on lost elements.
 */
import { type ChaosOp, OpFn, OpStatus } from '../history/ops.ts';
import { type Anomaly, byKey, type CheckResult } from './result.ts';

export function checkQueue(ops: readonly ChaosOp[]): CheckResult {
  const keys = byKey(ops.filter((o) => o.f === OpFn.Enqueue || o.f === OpFn.Dequeue || o.f === OpFn.Drain));
  const anomalies: Anomaly[] = [];
  const stats = {
    keys: keys.size,
    acknowledged: 0,
    indeterminatePushes: 0,
    popped: 0,
    emptyPops: 0,
    indeterminatePops: 0,
    left: 0,
    recovered: 0,
    indeterminatePopsTook: 0,
    lost: 0,
  };
  for (const [key, list] of keys) {
    const pushes = new Map<string, ChaosOp>();
    for (const o of list) if (o.f === OpFn.Enqueue && o.status !== OpStatus.Fail && o.value !== undefined) pushes.set(o.value, o);
    const acked = list.filter((o) => o.f === OpFn.Enqueue && o.status === OpStatus.Ok);
    stats.acknowledged += acked.length;
    stats.indeterminatePushes += list.filter((o) => o.f === OpFn.Enqueue && o.status === OpStatus.Info).length;
    const infoPops = list.filter((o) => o.f === OpFn.Dequeue && o.status === OpStatus.Info).length;
    stats.indeterminatePops += infoPops;
    // Where each element was seen: by which acknowledged pops, and whether it was left.
    const seen = new Map<string, ChaosOp[]>();
    const see = (v: string, o: ChaosOp): void => {
      const at = seen.get(v);
      if (at === undefined) seen.set(v, [o]);
      else at.push(o);
    };
    for (const o of list) {
      if (o.f !== OpFn.Dequeue || o.status !== OpStatus.Ok) continue;
      if (o.result === null || o.result === undefined) stats.emptyPops++;
      else {
        stats.popped++;
        see(String(o.result), o);
      }
    }
    const drains = list.filter((o) => o.f === OpFn.Drain && o.status === OpStatus.Ok);
    const drain = drains.length > 0 ? drains.reduce((a, b) => (b.return > a.return ? b : a)) : undefined;
    if (drain !== undefined) {
      const left = JSON.parse(String(drain.result)) as string[];
      stats.left += left.length;
      for (const v of left) see(v, drain);
    }
    for (const [v, at] of seen) {
      const push = pushes.get(v);
      if (push === undefined) anomalies.push({ kind: 'unexpected', key, message: `${key}: element ${v} was never pushed`, ops: at.slice(0, 2) });
      else if (push.status === OpStatus.Info) stats.recovered++;
      if (at.length > 1)
        anomalies.push({
          kind: 'duplicate',
          key,
          message: `${key}: element ${v} was popped (or left) ${at.length} times`,
          ops: [...(push ? [push] : []), ...at],
        });
    }
    if (drain === undefined) continue;
    const missing = acked.filter((o) => !seen.has(o.value ?? ''));
    const took = Math.min(missing.length, infoPops);
    stats.indeterminatePopsTook += took;
    if (missing.length > infoPops) {
      stats.lost += missing.length - infoPops;
      anomalies.push({
        kind: 'lost',
        key,
        message: `${key}: ${missing.length} acknowledged pushes were neither popped nor left, but only ${infoPops} pops were indeterminate`,
        ops: missing.slice(0, 5),
      });
    }
  }
  return { checker: 'queue', valid: anomalies.length === 0, anomalies, stats };
}
