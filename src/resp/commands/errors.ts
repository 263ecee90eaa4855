/**
 * The error replies Redis 7.0's processCommand gives before a command runs, worded and
 * truncated exactly as redis-server does (clients and the differential tests compare them).
 *
 * Redis formats user arguments with printf's `%.*s`, which stops at a NUL byte, and then turns
 * CR and LF into spaces; the encoder does the latter for every error.
 */
import { R, type Reply } from '../reply.ts';
import type { CommandSpec } from './spec.ts';

/** An argument as C's `%.<max>s` prints it: cut at the first NUL, at most `max` bytes. */
function cString(b: Buffer, max = Number.POSITIVE_INFINITY): Buffer {
  const nul = b.indexOf(0);
  return b.subarray(0, Math.min(nul < 0 ? b.length : nul, max));
}

/** `ERR wrong number of arguments for 'client|setname' command` (the full name, lower case). */
export function arityError(cmd: CommandSpec): Reply {
  return R.error(`ERR wrong number of arguments for '${cmd.name}' command`);
}

/** The arity error for `argc` arguments, or null when the count is right. */
export function checkArity(cmd: CommandSpec, argc: number): Reply | null {
  const ok = cmd.arity > 0 ? argc === cmd.arity : argc >= -cmd.arity;
  return ok ? null : arityError(cmd);
}

const QUOTE = Buffer.from("'");
const QUOTE_SPACE = Buffer.from("' ");
const ARGS_MAX = 128;

/**
 * `ERR unknown command 'foo', with args beginning with: 'a' 'b' `: the name cut to 128 bytes,
 * then arguments each quoted and followed by a space while the list is under 128 bytes, the
 * last one cut so the quoted text stays within 128.
 */
export function unknownCommandError(argv: readonly Buffer[]): Reply {
  const parts: Buffer[] = [Buffer.from("ERR unknown command '"), cString(argv[0], ARGS_MAX), Buffer.from("', with args beginning with: ")];
  let argsLen = 0;
  for (let i = 1; i < argv.length && argsLen < ARGS_MAX; i++) {
    const arg = cString(argv[i], ARGS_MAX - argsLen);
    parts.push(QUOTE, arg, QUOTE_SPACE);
    argsLen += arg.length + 3;
  }
  return R.error(Buffer.concat(parts));
}

/** `ERR unknown subcommand 'foo'. Try CLIENT HELP.` (the container as typed, upper-cased). */
export function unknownSubcommandError(argv: readonly Buffer[]): Reply {
  const container = Buffer.from(cString(argv[0]));
  for (let i = 0; i < container.length; i++) {
    const c = container[i];
    if (c >= 0x61 && c <= 0x7a) container[i] = c - 0x20;
  }
  return R.error(
    Buffer.concat([Buffer.from("ERR unknown subcommand '"), cString(argv[1], ARGS_MAX), Buffer.from("'. Try "), container, Buffer.from(' HELP.')]),
  );
}

export const NOAUTH_ERROR = R.error('NOAUTH Authentication required.');

/** A RESP2 connection in subscribe mode may only run the (un)subscribe commands, PING, QUIT, RESET. */
export function pubsubContextError(cmd: CommandSpec): Reply {
  return R.error(`ERR Can't execute '${cmd.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
}

export const NO_MULTI_ERROR = R.error('ERR Command not allowed inside a transaction');

/**
 * A refused EXEC: `EXECABORT Transaction discarded because of: <reason>`, the reason without
 * the `ERR ` of a formatted error but with any other code ("NOAUTH Authentication required.").
 */
export function execAbortError(reason: Reply): Reply {
  if (reason.t !== 'error') return reason;
  const text = typeof reason.v === 'string' ? Buffer.from(reason.v) : reason.v;
  const body = text.subarray(0, 4).equals(ERR_PREFIX) ? text.subarray(4) : text;
  return R.error(Buffer.concat([EXECABORT_PREFIX, body]));
}

const ERR_PREFIX = Buffer.from('ERR ');
const EXECABORT_PREFIX = Buffer.from('EXECABORT Transaction discarded because of: ');
