/**
 * The client history of a key-value store whose keys are independent registers, as recorded by
 * the simulator (test/sim) and the chaos suite (chaos/). Plain data, so a history can be written
 * to a report file and checked again later.
 *
 * Times are any monotonic numbers (simulated steps, or wall-clock milliseconds in a chaos run);
 * only their order matters. `null` is the value of an absent key.
 */

export type RegisterValue = string | null;

/** The integer an INCR finds in `v` (absent is 0), or undefined if it is not one. */
export function counterValue(v: RegisterValue): number | undefined {
  if (v === null) return 0;
  return /^-?(0|[1-9][0-9]{0,14})$/.test(v) ? Number(v) : undefined;
}

export const OpKind = {
  Read: 'read',
  Write: 'write',
  /** Compare-and-set: writes `input.value` only if the register holds `input.expect`. */
  Cas: 'cas',
  /**
   * INCR: the register holds a decimal integer (absent counts as 0) and gains one; `output` is
   * the new value, or 'error' when the register held something else (left unchanged).
   */
  Incr: 'incr',
} as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

export const OpStatus = {
  /** The client saw the outcome: the write took effect, the read returned `output`. */
  Ok: 'ok',
  /** The operation definitely did not take effect (for example, the proposal was dropped). */
  Fail: 'fail',
  /** Indeterminate (timeout, crashed server): it may have taken effect once, at any point after `call`. */
  Info: 'info',
} as const;
export type OpStatus = (typeof OpStatus)[keyof typeof OpStatus];

interface OpBase {
  clientId: string | number;
  key: string;
  /** When the client sent the request. */
  call: number;
  /** When the client saw the reply; ignored for `info` operations, which never return. */
  return: number;
  status: OpStatus;
}

export interface ReadOp extends OpBase {
  op: typeof OpKind.Read;
  /** The value the read returned (meaningful for `ok` only). */
  output?: RegisterValue;
}

export interface WriteOp extends OpBase {
  op: typeof OpKind.Write;
  /** The value written; `null` deletes the key. */
  input: RegisterValue;
}

export interface CasOp extends OpBase {
  op: typeof OpKind.Cas;
  input: { expect: RegisterValue; value: RegisterValue };
  /** Whether the swap happened (meaningful for `ok` only). */
  output?: boolean;
}

export interface IncrOp extends OpBase {
  op: typeof OpKind.Incr;
  output?: number | 'error';
}

export type HistoryOp = ReadOp | WriteOp | CasOp | IncrOp;

/** One line per operation, for reports: `c2 write k1 := "a" ok [12, 15]`. */
export function describeOp(op: HistoryOp): string {
  const span = op.status === OpStatus.Info ? `[${op.call}, ?]` : `[${op.call}, ${op.return}]`;
  let body: string;
  switch (op.op) {
    case OpKind.Read:
      body = `read ${op.key}${op.status === OpStatus.Ok ? ` -> ${show(op.output ?? null)}` : ''}`;
      break;
    case OpKind.Write:
      body = `write ${op.key} := ${show(op.input)}`;
      break;
    case OpKind.Cas:
      body = `cas ${op.key} ${show(op.input.expect)} -> ${show(op.input.value)}${op.status === OpStatus.Ok ? ` = ${op.output ? 'swapped' : 'unchanged'}` : ''}`;
      break;
    case OpKind.Incr:
      body = `incr ${op.key}${op.status === OpStatus.Ok ? ` -> ${op.output}` : ''}`;
      break;
  }
  return `c${op.clientId} ${body} ${op.status} ${span}`;
}

export function show(v: RegisterValue): string {
  return v === null ? 'nil' : JSON.stringify(v);
}
