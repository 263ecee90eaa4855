/**
 * Results of applying an op: protocol-neutral typed values that the RESP and HTTP front ends
 * turn into replies. Errors carry Redis's exact text, prefix included ("ERR ...").
 */
import type { SlotRange } from './owned.ts';
import type { IgnoredSetting } from './settings.ts';

export type KvResult =
  | { type: 'ok' }
  | { type: 'nil' }
  /** Integer reply; a bigint only when INCRBY's result is beyond 2^53. */
  | { type: 'int'; value: number | bigint }
  | { type: 'bulk'; value: Uint8Array }
  /** A status (simple string) reply other than OK, e.g. TYPE's "string" / "none". */
  | { type: 'status'; value: string }
  | { type: 'array'; value: KvResult[] }
  | { type: 'error'; message: string }
  /** The whole entry was skipped because a WATCHed key changed (EXEC replies a nil array). */
  | { type: 'aborted' }
  /** PUBLISH: the runtime delivers the message and replies with the receiver count. */
  | { type: 'publish'; channel: Uint8Array; message: Uint8Array /** SPUBLISH's */; shard: boolean }
  /**
   * CONFIG (cluster-wide settings): they changed, so the node adopts KvStore.settings; `ignored`
   * lists pairs this version could not apply (logged by the node). The client's reply is OK.
   */
  | { type: 'settings'; ignored: IgnoredSetting[] }
  /**
   * Issue 13: the entry named a key of `slot`, which this group does not own (given up in a
   * split, or never its own), so nothing in it applied. The only result of the entry, as
   * `aborted`. The front end answers MOVED or TRYAGAIN from its slot map.
   */
  | { type: 'moved'; slot: number }
  /**
   * A SPLIT applied at `index`: this group gave `slots` to the new `group`, whose image
   * KvStore.takeSplitImage(group) hands out (begun at this index).
   */
  | { type: 'split'; index: number; group: number; slots: SlotRange };

/** Redis's error texts, as it words them. */
export const ERR = {
  notInteger: 'ERR value is not an integer or out of range',
  overflow: 'ERR increment or decrement would overflow',
  notFloat: 'ERR value is not a valid float',
  nanOrInf: 'ERR increment would produce NaN or Infinity',
  tooBig: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
  nxAndOthers: 'ERR NX and XX, GT or LT options at the same time are not compatible',
  gtAndLt: 'ERR GT and LT options at the same time are not compatible',
  syntax: 'ERR syntax error',
  oom: "OOM command not allowed when used memory > 'maxmemory'.",
  /** A command for one kind of value against a key holding another (issue 14). */
  wrongType: 'WRONGTYPE Operation against a key holding the wrong kind of value',
} as const;

/** "ERR invalid expire time in '<command>' command". */
export function invalidExpireTime(command: string): string {
  return `ERR invalid expire time in '${command}' command`;
}

export const OK: KvResult = Object.freeze({ type: 'ok' });
export const NIL: KvResult = Object.freeze({ type: 'nil' });
export const ABORTED: KvResult = Object.freeze({ type: 'aborted' });
export const WRONGTYPE: KvResult = Object.freeze({ type: 'error', message: ERR.wrongType });
const SMALL_INTS: KvResult[] = [];
for (let i = -2; i <= 16; i++) SMALL_INTS.push(Object.freeze({ type: 'int', value: i }));

export function int(value: number | bigint): KvResult {
  if (typeof value === 'number' && value >= -2 && value <= 16 && Number.isInteger(value)) return SMALL_INTS[value + 2];
  return { type: 'int', value };
}

export function bulk(value: Uint8Array): KvResult {
  return { type: 'bulk', value };
}

export function error(message: string): KvResult {
  return { type: 'error', message };
}
