/** Builds chaos history records tersely for the checker tests. */
import type { ChaosOp, OpFn, OpStatus } from '../history/ops.ts';

let next = 0;

export function op(f: OpFn, key: string, status: OpStatus, call: number, ret: number, extra: Partial<ChaosOp> = {}): ChaosOp {
  return { index: next++, process: 0, client: 0, node: 'n1', f, key, status, call, return: ret, ...extra };
}

/** Re-numbers `index` so the records can be used as a history (index = position). */
export function history(...ops: ChaosOp[]): ChaosOp[] {
  return ops.map((o, i) => ({ ...o, index: i }));
}
