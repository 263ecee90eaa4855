/**
 * String commands: SET and its variants, GET/GETDEL/GETEX, MSET/MSETNX/MGET, STRLEN, APPEND and
 * the counters. Arguments are parsed like Redis 7.0's t_string.c (same checks, same order, same
 * errors); relative expiry becomes an absolute PXAT here, before the entry is proposed.
 */
import { ERR, type OpOf, WRONG_TYPE } from '../../kv/index.ts';
import { parseLongDouble } from '../../kv/long-double.ts';
import { arityError } from '../commands/errors.ts';
import { COMMANDS } from '../commands/table.ts';
import { R } from '../reply.ts';
import { absoluteExpire, type ExpireUnit, INT64_MIN, int64OrReply, isReply, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type DirectRead, type KvCompiler, kv } from './context.ts';
import { type KvPlan, resultReply, single } from './plan.ts';

const EXPIRE_UNITS = new Set<string>(['ex', 'px', 'exat', 'pxat']);

const TOUCH = { touch: true } as const;
const WRONGTYPE_REPLY = R.error(ERR.wrongType);

/** GET served alone: the value looked up directly, answered as the `get` op's plan answers. */
const getDirect: DirectRead = (ctx, argv, now) => {
  // The stored string, not a copy: a reply that waits for a slow reader costs no memory.
  const value = ctx.node.kv.getBinary(argv[1], now, TOUCH);
  const metrics = ctx.node.metrics;
  if (value === WRONG_TYPE) return WRONGTYPE_REPLY;
  if (value === null) {
    metrics.misses.value++;
    return R.NULL;
  }
  metrics.hits.value++;
  return R.binary(value);
};

/** SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] (parseExtendedStringArgumentsOrReply). */
const set: KvCompiler = (ctx, argv) => {
  let cond: 'nx' | 'xx' | undefined;
  let get = false;
  let keepTtl = false;
  let unit: ExpireUnit | undefined;
  let expire: Buffer | undefined;
  for (let j = 3; j < argv.length; j++) {
    const opt = option(argv[j]);
    const hasNext = j < argv.length - 1;
    if (opt === 'nx' && cond !== 'xx') cond = 'nx';
    else if (opt === 'xx' && cond !== 'nx') cond = 'xx';
    else if (opt === 'get') get = true;
    else if (opt === 'keepttl' && unit === undefined) keepTtl = true;
    else if (EXPIRE_UNITS.has(opt) && !keepTtl && (unit === undefined || unit === opt) && hasNext) {
      unit = opt as ExpireUnit;
      expire = argv[++j];
    } else return SYNTAX_ERROR;
  }
  const op: OpOf<'set'> = { type: 'set', key: argv[1], value: argv[2] };
  if (cond) op.cond = cond;
  if (get) op.get = true;
  if (keepTtl) op.keepTtl = true;
  if (unit !== undefined && expire !== undefined) {
    const at = absoluteExpire(expire, unit, ctx.node.now(), 'set');
    if (isReply(at)) return at;
    op.pxat = at;
  }
  return single(op);
};

/** SETEX / PSETEX key time value. */
function setWithExpire(unit: 'ex' | 'px', name: string): KvCompiler {
  return (ctx, argv) => {
    const at = absoluteExpire(argv[2], unit, ctx.node.now(), name);
    if (isReply(at)) return at;
    return single({ type: 'set', key: argv[1], value: argv[3], pxat: at });
  };
}

const setnx: KvCompiler = (_ctx, argv) =>
  single({ type: 'set', key: argv[1], value: argv[2], cond: 'nx' }, (r) => (r.type === 'ok' ? R.ONE : r.type === 'nil' ? R.ZERO : resultReply(r)));

/** GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]; without options it is a plain read. */
const getex: KvCompiler = (ctx, argv) => {
  let persist = false;
  let unit: ExpireUnit | undefined;
  let expire: Buffer | undefined;
  for (let j = 2; j < argv.length; j++) {
    const opt = option(argv[j]);
    const hasNext = j < argv.length - 1;
    if (opt === 'persist' && unit === undefined) persist = true;
    else if (EXPIRE_UNITS.has(opt) && !persist && (unit === undefined || unit === opt) && hasNext) {
      unit = opt as ExpireUnit;
      expire = argv[++j];
    } else return SYNTAX_ERROR;
  }
  const key = argv[1];
  if (unit !== undefined && expire !== undefined) {
    const at = absoluteExpire(expire, unit, ctx.node.now(), 'getex');
    // Redis validates the time only once it has found the key: a missing key answers nil.
    if (isReply(at)) return single({ type: 'get', key }, (r) => (r.type === 'nil' ? ctx.lookup(r) : at));
    return single({ type: 'getex', key, pxat: at }, ctx.lookup);
  }
  if (persist) return single({ type: 'getex', key, persist: true }, ctx.lookup);
  return single({ type: 'get', key }, ctx.lookup);
};

/** MSET / MSETNX key value [key value ...]. */
function msetLike(type: 'mset' | 'msetnx'): KvCompiler {
  const spec = COMMANDS.get(type);
  return (_ctx, argv) => {
    if (argv.length % 2 === 0 && spec) return arityError(spec);
    const pairs: [Buffer, Buffer][] = [];
    for (let i = 1; i < argv.length; i += 2) pairs.push([argv[i], argv[i + 1]]);
    return single({ type, pairs });
  };
}

/** INCRBY/DECRBY: the increment is parsed before anything else. */
function incrBy(sign: 1n | -1n): KvCompiler {
  return (_ctx, argv) => {
    const n = int64OrReply(argv[2]);
    if (isReply(n)) return n;
    if (sign === -1n && n === INT64_MIN) return R.error('ERR decrement would overflow');
    return single({ type: 'incrby', key: argv[1], delta: sign * n });
  };
}

const incrbyfloat: KvCompiler = (_ctx, argv) => {
  const incr = argv[2].toString('latin1');
  if (parseLongDouble(incr) === null) return R.error('ERR value is not a valid float');
  return single({ type: 'incrbyfloat', key: argv[1], incr });
};

const mget: KvCompiler = (ctx, argv): KvPlan =>
  single({ type: 'mget', keys: argv.slice(1) }, (r) => {
    if (r.type !== 'array') return resultReply(r);
    for (const x of r.value) ctx.lookup(x);
    return resultReply(r);
  });

export const STRING_COMMANDS = {
  set: kv(set),
  setex: kv(setWithExpire('ex', 'setex')),
  psetex: kv(setWithExpire('px', 'psetex')),
  setnx: kv(setnx),
  get: kv((ctx, argv) => single({ type: 'get', key: argv[1] }, ctx.lookup), getDirect),
  getdel: kv((ctx, argv) => single({ type: 'getdel', key: argv[1] }, ctx.lookup)),
  getex: kv(getex),
  mset: kv(msetLike('mset')),
  msetnx: kv(msetLike('msetnx')),
  mget: kv(mget),
  strlen: kv((_ctx, argv) => single({ type: 'strlen', key: argv[1] })),
  append: kv((_ctx, argv) => single({ type: 'append', key: argv[1], value: argv[2] })),
  incr: kv((_ctx, argv) => single({ type: 'incrby', key: argv[1], delta: 1n })),
  decr: kv((_ctx, argv) => single({ type: 'incrby', key: argv[1], delta: -1n })),
  incrby: kv(incrBy(1n)),
  decrby: kv(incrBy(-1n)),
  incrbyfloat: kv(incrbyfloat),
} as const satisfies Record<string, CommandImpl>;
