/**
 * Argument parsing the way Redis 7.0 does it (string2ll, strcasecmp on C strings, the
 * expire-time rules of SET/GETEX/EXPIRE), with Redis's error replies. Parsers return the value
 * or an error `Reply`; `isReply` tells them apart.
 */
import { MAX_TIME_MS, parseInt64 } from '../../kv/index.ts';
import { R, type Reply } from '../reply.ts';

export const SYNTAX_ERROR = R.error('ERR syntax error');
export const NOT_INTEGER = R.error('ERR value is not an integer or out of range');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function isReply(v: unknown): v is Reply {
  return typeof v === 'object' && v !== null && 't' in v && typeof (v as { t: unknown }).t === 'string';
}

/**
 * The argument as C code sees it: cut at the first NUL, ASCII lower-cased. Redis compares
 * option names with strcasecmp, so `NX\0junk` is NX.
 */
export function option(arg: Buffer): string {
  const nul = arg.indexOf(0);
  return (nul < 0 ? arg : arg.subarray(0, nul)).toString('latin1').toLowerCase();
}

/** The argument as `%s` prints it (up to the first NUL). */
export function cstr(arg: Buffer): string {
  const nul = arg.indexOf(0);
  return (nul < 0 ? arg : arg.subarray(0, nul)).toString('latin1');
}

/** string2ll: a signed 64-bit integer, or null. */
export function int64(arg: Buffer): bigint | null {
  const v = parseInt64(arg.toString('latin1'));
  return v === null ? null : BigInt(v);
}

/** getLongLongFromObjectOrReply: the integer, or `ERR value is not an integer or out of range`. */
export function int64OrReply(arg: Buffer, error: Reply = NOT_INTEGER): bigint | Reply {
  return int64(arg) ?? error;
}

/** getIntFromObjectOrReply / getLongFromObjectOrReply with a range. */
export function intInRange(arg: Buffer, min: bigint, max: bigint, error: Reply = NOT_INTEGER): number | Reply {
  const v = int64(arg);
  if (v === null || v < min || v > max) return error;
  return Number(v);
}

export const INT32_MIN = -(2n ** 31n);
export const INT32_MAX = 2n ** 31n - 1n;
export { INT64_MAX, INT64_MIN };

/** `ERR invalid expire time in '<command>' command`, named after the full command name. */
export function invalidExpire(command: string): Reply {
  return R.error(`ERR invalid expire time in '${command}' command`);
}

export type ExpireUnit = 'ex' | 'px' | 'exat' | 'pxat';

/**
 * SET/GETEX/SETEX expire argument to an absolute Unix ms time, as getExpireMillisecondsOrReply:
 * not an integer -> ERR not integer; <= 0 or overflowing -> invalid expire time. RaftKV also
 * refuses times beyond MAX_TIME_MS (2^52 - 1 ms), the range a log entry carries.
 */
export function absoluteExpire(arg: Buffer, unit: ExpireUnit, now: number, command: string): number | Reply {
  const v = int64(arg);
  if (v === null) return NOT_INTEGER;
  const seconds = unit === 'ex' || unit === 'exat';
  if (v <= 0n || (seconds && v > INT64_MAX / 1000n)) return invalidExpire(command);
  let ms = seconds ? v * 1000n : v;
  if (unit === 'ex' || unit === 'px') ms += BigInt(now);
  if (ms <= 0n || ms > INT64_MAX || ms > BigInt(MAX_TIME_MS)) return invalidExpire(command);
  return Number(ms);
}

/**
 * EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT time to absolute ms (expireGenericCommand): negative
 * values are allowed and mean "already expired"; overflow in the unit conversion or the base
 * time addition is an invalid expire time. A time in the past is clamped to -MAX_TIME_MS,
 * which deletes the key just the same.
 */
export function expireAt(arg: Buffer, seconds: boolean, base: number, command: string): number | Reply {
  const v = int64(arg);
  if (v === null) return NOT_INTEGER;
  let when = v;
  if (seconds) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpire(command);
    when *= 1000n;
  }
  if (when > INT64_MAX - BigInt(base)) return invalidExpire(command);
  when += BigInt(base);
  if (when > BigInt(MAX_TIME_MS)) return invalidExpire(command);
  return when < BigInt(-MAX_TIME_MS) ? -MAX_TIME_MS : Number(when);
}

/** A binary-safe Buffer view of a Uint8Array (no copy). */
export function buf(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
