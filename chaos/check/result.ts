/** What every checker returns: a verdict, the anomalies found, and a few counts. */
import type { ChaosOp } from '../history/ops.ts';

export interface Anomaly {
  /** e.g. `nonlinearizable`, `lost-write`, `read-after-expiry`, `duplicate-increment`. */
  kind: string;
  key?: string;
  message: string;
  /** The smallest set of operations that shows the anomaly. */
  ops: ChaosOp[];
  /** A longer human-readable account, when the checker has one. */
  text?: string;
}

export interface CheckResult {
  checker: string;
  valid: boolean;
  anomalies: Anomaly[];
  stats: Record<string, number>;
}

/** The anomaly with the fewest operations: the report's counterexample. */
export function smallest(anomalies: readonly Anomaly[]): Anomaly | undefined {
  let best: Anomaly | undefined;
  for (const a of anomalies) if (!best || a.ops.length < best.ops.length) best = a;
  return best;
}

/** One line per operation, for reports. */
export function describe(op: ChaosOp): string {
  const arg = op.value !== undefined ? ` ${JSON.stringify(op.value)}` : '';
  const ttl = op.ttl !== undefined ? ` px=${op.ttl}` : '';
  const res = op.status === 'ok' && op.result !== undefined ? ` -> ${JSON.stringify(op.result)}` : '';
  const err = op.error ? ` (${op.error})` : '';
  return `#${op.index} p${op.process}@${op.node} ${op.f} ${op.key}${arg}${ttl}${res} ${op.status} [${op.call}, ${op.return}]${err}`;
}

/** Operations grouped by key, in history order. */
export function byKey(ops: Iterable<ChaosOp>): Map<string, ChaosOp[]> {
  const out = new Map<string, ChaosOp[]>();
  for (const o of ops) {
    const list = out.get(o.key);
    if (list) list.push(o);
    else out.set(o.key, [o]);
  }
  return out;
}
