/**
 * The ttl workload's checks. Each key is written once, `SET k v PX ttl`, and then read.
 *
 * The leader stamps the write with its wall clock at some moment p inside the SET's
 * [call, return], and the key expires when a serving node's clock passes stamp + ttl. Node
 * clocks are off the harness's by at most `skewMs` in either direction (the clock nemesis's
 * bound; 0 without it), so on the harness clock the expiry falls within
 * [call + ttl - 2 skew, return + ttl + 2 skew]. Hence, for an acknowledged SET:
 * - read-after-expiry: a GET sent after return + ttl + 2 skew must not return v;
 * - early-expiry (a lost write): a GET sent after the SET returned and answered before
 *   call + ttl - 2 skew must return v.
 * A failed SET must never be read back. An indeterminate SET may apply late (a request
 * buffered at a paused leader is stamped when it wakes), so its reads are not bounded.
 * Both bounds also allow 2 ms for the nodes' whole-millisecond clocks.
 */
import { type ChaosOp, OpFn, OpStatus } from '../history/ops.ts';
import { type Anomaly, byKey, type CheckResult } from './result.ts';

const ROUNDING_MS = 2;

export interface TtlBounds {
  /** Largest distance of any node's wall clock from the harness's, in ms. */
  skewMs: number;
}

export function checkTtl(ops: readonly ChaosOp[], bounds: TtlBounds): CheckResult {
  const spread = 2 * bounds.skewMs + ROUNDING_MS;
  const sets = byKey(ops.filter((o) => o.f === OpFn.SetPx));
  const reads = byKey(ops.filter((o) => o.f === OpFn.Get && o.status === OpStatus.Ok));
  const anomalies: Anomaly[] = [];
  const stats = { keys: sets.size, reads: 0, readsAfterExpiry: 0, readsBeforeExpiry: 0 };
  for (const [key, writes] of sets) {
    const attempts = writes.filter((w) => w.status !== OpStatus.Fail);
    const keyReads = reads.get(key) ?? [];
    stats.reads += keyReads.length;
    if (attempts.length > 1) {
      anomalies.push({ kind: 'workload', key, message: `ttl key ${key} was written more than once; the check assumes one write`, ops: attempts });
      continue;
    }
    const w = attempts[0];
    if (!w) {
      const seen = keyReads.find((r) => r.result !== null);
      if (seen) anomalies.push({ kind: 'failed-write-visible', key, message: `${key} was read back although its SET failed`, ops: [...writes, seen] });
      continue;
    }
    if (w.status !== OpStatus.Ok) continue;
    const ttl = w.ttl ?? 0;
    for (const r of keyReads) {
      const got = r.result ?? null;
      if (got !== null && got !== w.value) {
        anomalies.push({ kind: 'foreign-value', key, message: `${key} returned a value nobody wrote`, ops: [w, r] });
      } else if (r.call > w.return + ttl + spread) {
        stats.readsAfterExpiry++;
        if (got !== null) {
          anomalies.push({
            kind: 'read-after-expiry',
            key,
            message: `${key} (PX ${ttl}) was read ${Math.round(r.call - w.return - ttl)} ms after its latest possible expiry (skew bound ${bounds.skewMs} ms)`,
            ops: [w, r],
          });
        }
      } else if (r.call > w.return && r.return < w.call + ttl - spread) {
        stats.readsBeforeExpiry++;
        if (got === null) {
          anomalies.push({
            kind: 'early-expiry',
            key,
            message: `${key} (PX ${ttl}) was absent ${Math.round(w.call + ttl - r.return)} ms before its earliest possible expiry (skew bound ${bounds.skewMs} ms)`,
            ops: [w, r],
          });
        }
      }
    }
  }
  return { checker: 'ttl', valid: anomalies.length === 0, anomalies, stats };
}
