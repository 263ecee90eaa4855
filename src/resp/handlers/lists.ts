/**
 * List commands (issue 14): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LREM
 * LTRIM LINSERT LPOS LMOVE RPOPLPUSH LMPOP (not the blocking ones). Arguments are parsed like
 * Redis 7.0's t_list.c, same checks in the same order with the same errors, before anything is
 * proposed; the state machine does the rest (src/kv/list-writes.ts, list-reads.ts). Where
 * Redis looks the key up before it parses an argument (LINDEX, LSET), a bad argument is
 * answered after a TYPE read, so a missing or wrong-typed key still wins.
 */
import { OP_INT_MAX } from '../../kv/codec-types.ts';
import type { KvResult, OpOf } from '../../kv/index.ts';
import { arityError } from '../commands/errors.ts';
import { COMMANDS } from '../commands/table.ts';
import { R, type Reply } from '../reply.ts';
import { int64, isReply, NOT_INTEGER, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type KvCompiler, kv } from './context.ts';
import { type KvPlan, resultReply, single } from './plan.ts';

const LONG_MAX = 2n ** 63n - 1n;
/** What an op carries for a long (codec-types.ts): clamped to +-OP_INT_MAX, beyond any list's length. */
const OP_MAX = BigInt(OP_INT_MAX);

function clamp(n: bigint): number {
  return Number(n > OP_MAX ? OP_MAX : n < -OP_MAX ? -OP_MAX : n);
}

/** getLongFromObjectOrReply with Redis's default text. */
function long(arg: Buffer): number | Reply {
  const n = int64(arg);
  return n === null ? NOT_INTEGER : clamp(n);
}

/** getRangeLongFromObjectOrReply(min, LONG_MAX, msg): a bad or small value answers `msg`. */
function atLeast(arg: Buffer, min: bigint, msg: string): number | Reply {
  const n = int64(arg);
  return n === null || n < min ? R.error(msg) : clamp(n);
}

/** getListPositionFromObjectOrReply: LEFT (true) or RIGHT (false). */
function where(arg: Buffer): boolean | Reply {
  const w = option(arg);
  if (w === 'left') return true;
  if (w === 'right') return false;
  return SYNTAX_ERROR;
}

/** An array reply whose nil (a missing key) is Redis's null array. */
function nullArray(r: KvResult): Reply {
  return r.type === 'nil' ? R.NULL_ARRAY : resultReply(r);
}

const push =
  (left: boolean, xx: boolean): KvCompiler =>
  (_ctx, argv) => {
    const op: OpOf<'lpush'> = { type: 'lpush', key: argv[1], elements: argv.slice(2) };
    if (left) op.left = true;
    if (xx) op.xx = true;
    return single(op);
  };

/** LPOP / RPOP key [count] (popGenericCommand): a bad count is "must be positive". */
function pop(name: 'lpop' | 'rpop'): KvCompiler {
  const spec = COMMANDS.get(name);
  return (_ctx, argv) => {
    if (argv.length > 3 && spec) return arityError(spec);
    const op: OpOf<'lpop'> = { type: 'lpop', key: argv[1] };
    if (name === 'lpop') op.left = true;
    if (argv.length === 2) return single(op);
    const count = atLeast(argv[2], 0n, 'ERR value is out of range, must be positive');
    if (isReply(count)) return count;
    op.count = count;
    return single(op, nullArray);
  };
}

/** LRANGE / LTRIM key start stop: both parsed before the key is looked up. */
const range =
  (type: 'lrange' | 'ltrim'): KvCompiler =>
  (_ctx, argv) => {
    const start = long(argv[2]);
    if (isReply(start)) return start;
    const stop = long(argv[3]);
    if (isReply(stop)) return stop;
    return single({ type, key: argv[1], start, stop });
  };

/**
 * A command whose index Redis parses only once the key is found and is a list: with a bad
 * index, a TYPE read answers `missing` for no key, WRONGTYPE for another kind, else the error.
 */
function afterKey(key: Buffer, bad: Reply, missing: Reply): KvPlan {
  return single({ type: 'type', key }, (r) => {
    if (r.type !== 'status') return resultReply(r);
    if (r.value === 'none') return missing;
    return r.value === 'list' ? bad : R.error('WRONGTYPE Operation against a key holding the wrong kind of value');
  });
}

const lindex: KvCompiler = (_ctx, argv) => {
  const index = long(argv[2]);
  if (isReply(index)) return afterKey(argv[1], index, R.NULL);
  return single({ type: 'lindex', key: argv[1], index });
};

const lset: KvCompiler = (_ctx, argv) => {
  const index = long(argv[2]);
  if (isReply(index)) return afterKey(argv[1], index, R.error('ERR no such key'));
  return single({ type: 'lset', key: argv[1], index, element: argv[3] });
};

const lrem: KvCompiler = (_ctx, argv) => {
  const count = long(argv[2]);
  if (isReply(count)) return count;
  return single({ type: 'lrem', key: argv[1], count, element: argv[3] });
};

/** LINSERT key BEFORE|AFTER pivot element. */
const linsert: KvCompiler = (_ctx, argv) => {
  const w = option(argv[2]);
  if (w !== 'before' && w !== 'after') return SYNTAX_ERROR;
  const op: OpOf<'linsert'> = { type: 'linsert', key: argv[1], pivot: argv[3], element: argv[4] };
  if (w === 'before') op.before = true;
  return single(op);
};

/** LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] (lposCommand). */
const lpos: KvCompiler = (_ctx, argv) => {
  const op: OpOf<'lpos'> = { type: 'lpos', key: argv[1], element: argv[2], rank: 1, maxlen: 0 };
  for (let j = 3; j < argv.length; j++) {
    const opt = option(argv[j]);
    const more = j < argv.length - 1;
    if (opt === 'rank' && more) {
      const n = int64(argv[++j]);
      if (n === null) return NOT_INTEGER;
      if (n === 0n) {
        return R.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
      }
      // LONG_MIN negates to itself in lposCommand: a walk from the tail where every match
      // counts, which is rank -1.
      op.rank = n < -LONG_MAX ? -1 : clamp(n);
    } else if (opt === 'count' && more) {
      const n = atLeast(argv[++j], 0n, "ERR COUNT can't be negative");
      if (isReply(n)) return n;
      op.count = n;
    } else if (opt === 'maxlen' && more) {
      const n = atLeast(argv[++j], 0n, "ERR MAXLEN can't be negative");
      if (isReply(n)) return n;
      op.maxlen = n;
    } else return SYNTAX_ERROR;
  }
  return op.count === undefined ? single(op) : single(op, nullArray);
};

/** LMOVE source destination LEFT|RIGHT LEFT|RIGHT. */
const lmove: KvCompiler = (_ctx, argv) => {
  const from = where(argv[3]);
  if (isReply(from)) return from;
  const to = where(argv[4]);
  if (isReply(to)) return to;
  const op: OpOf<'lmove'> = { type: 'lmove', key: argv[1], dest: argv[2] };
  if (from) op.fromLeft = true;
  if (to) op.toLeft = true;
  return single(op);
};

/** LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] (lmpopGenericCommand). */
const lmpop: KvCompiler = (_ctx, argv) => {
  const n = int64(argv[1]);
  if (n === null || n < 1n) return R.error('ERR numkeys should be greater than 0');
  if (n >= BigInt(argv.length - 2)) return SYNTAX_ERROR;
  const numkeys = Number(n);
  const left = where(argv[2 + numkeys]);
  if (isReply(left)) return left;
  let count: number | undefined;
  for (let j = 3 + numkeys; j < argv.length; j++) {
    if (count === undefined && option(argv[j]) === 'count' && j < argv.length - 1) {
      const c = atLeast(argv[++j], 1n, 'ERR count should be greater than 0');
      if (isReply(c)) return c;
      count = c;
    } else return SYNTAX_ERROR;
  }
  const op: OpOf<'lmpop'> = { type: 'lmpop', keys: argv.slice(2, 2 + numkeys), count: count ?? 1 };
  if (left) op.left = true;
  return single(op, nullArray);
};

export const LIST_COMMANDS = {
  lpush: kv(push(true, false)),
  rpush: kv(push(false, false)),
  lpushx: kv(push(true, true)),
  rpushx: kv(push(false, true)),
  lpop: kv(pop('lpop')),
  rpop: kv(pop('rpop')),
  llen: kv((_ctx, argv) => single({ type: 'llen', key: argv[1] })),
  lrange: kv(range('lrange')),
  ltrim: kv(range('ltrim')),
  lindex: kv(lindex),
  lset: kv(lset),
  lrem: kv(lrem),
  linsert: kv(linsert),
  lpos: kv(lpos),
  lmove: kv(lmove),
  rpoplpush: kv((_ctx, argv) => single({ type: 'lmove', key: argv[1], dest: argv[2], toLeft: true })),
  lmpop: kv(lmpop),
} as const satisfies Record<string, CommandImpl>;
