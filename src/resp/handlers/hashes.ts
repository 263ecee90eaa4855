/**
 * Hash commands (issue 14): HSET HSETNX HMSET HGET HMGET HGETALL HDEL HEXISTS HLEN HKEYS HVALS
 * HSTRLEN HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN. Arguments are parsed like Redis 7.0's
 * t_hash.c (same checks, same order, same errors) before anything is proposed; the state
 * machine does the rest (src/kv/type-writes.ts, type-reads.ts). HGETALL is a map in RESP3.
 */
import { ERR, ERR_RANDOM_COUNT, type KvResult, MAX_RANDOM_COUNT, type OpOf } from '../../kv/index.ts';
import { parseLongDouble } from '../../kv/long-double.ts';
import { arityError } from '../commands/errors.ts';
import { COMMANDS } from '../commands/table.ts';
import { R, type Reply } from '../reply.ts';
import { int64, int64OrReply, isReply, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type KvCompiler, kv } from './context.ts';
import { scanCursor, scanOptions } from './keys.ts';
import { type KvPlan, resultReply, single } from './plan.ts';

const LONG_MAX = 2n ** 63n - 1n;
const OUT_OF_RANGE = R.error(`ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`);
const VALUE_OUT_OF_RANGE = R.error('ERR value is out of range');
const RANDOM_COUNT = R.error(ERR_RANDOM_COUNT);

/** HSET / HMSET key field value [field value ...]: an odd argument count is an arity error. */
function hsetLike(name: 'hset' | 'hmset'): KvCompiler {
  const spec = COMMANDS.get(name);
  return (_ctx, argv) => {
    if (argv.length % 2 === 1 && spec) return arityError(spec);
    const pairs: [Buffer, Buffer][] = [];
    for (let i = 2; i < argv.length; i += 2) pairs.push([argv[i], argv[i + 1]]);
    const op: OpOf<'hset'> = { type: 'hset', key: argv[1], pairs };
    return name === 'hset' ? single(op) : single(op, (r) => (r.type === 'int' ? R.OK : resultReply(r)));
  };
}

/** The flat [field, value, ...] array as a map (RESP3 `%`, the same flat array in RESP2). */
function mapReply(r: KvResult): Reply {
  if (r.type !== 'array') return resultReply(r);
  const pairs: [Reply, Reply][] = [];
  for (let i = 0; i + 1 < r.value.length; i += 2) pairs.push([resultReply(r.value[i]), resultReply(r.value[i + 1])]);
  return R.map(pairs);
}

/** HRANDFIELD ... WITHVALUES: pairs (RESP3 an array of pairs, RESP2 flat). */
function pairsReply(r: KvResult): Reply {
  if (r.type !== 'array') return resultReply(r);
  const pairs: [Reply, Reply][] = [];
  for (let i = 0; i + 1 < r.value.length; i += 2) pairs.push([resultReply(r.value[i]), resultReply(r.value[i + 1])]);
  return R.pairs(pairs);
}

/** HINCRBYFLOAT: the increment is parsed (and refused if infinite) before the key is looked up. */
const hincrbyfloat: KvCompiler = (_ctx, argv) => {
  const incr = parseLongDouble(argv[3].toString('latin1'));
  if (incr === null) return R.error(ERR.notFloat);
  if (incr.inf) return R.error('ERR value is NaN or Infinity');
  return single({ type: 'hincrbyfloat', key: argv[1], field: argv[2], incr: argv[3] });
};

/** HRANDFIELD key [count [WITHVALUES]] (hrandfieldCommand). */
const hrandfield: KvCompiler = (_ctx, argv) => {
  if (argv.length === 2) return single({ type: 'hrandfield', key: argv[1] });
  const n = int64(argv[2]);
  if (n === null) return R.error(ERR.notInteger);
  if (n < -LONG_MAX || n > LONG_MAX) return OUT_OF_RANGE;
  if (argv.length > 4 || (argv.length === 4 && option(argv[3]) !== 'withvalues')) return SYNTAX_ERROR;
  const withValues = argv.length === 4;
  if (withValues && (n < -LONG_MAX / 2n || n > LONG_MAX / 2n)) return VALUE_OUT_OF_RANGE;
  if (n < -BigInt(MAX_RANDOM_COUNT)) return RANDOM_COUNT;
  // A positive count beyond the hash's size means the whole hash.
  const count = n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
  const op: OpOf<'hrandfield'> = { type: 'hrandfield', key: argv[1], count };
  if (!withValues) return single(op);
  op.withValues = true;
  return single(op, pairsReply);
};

/**
 * HSCAN key cursor [MATCH pattern] [COUNT count]. Redis checks the cursor, then the key (a
 * missing one answers an empty page, another type WRONGTYPE), and only then the options: so a
 * bad option becomes a plan that looks at the key's type first.
 */
const hscan: KvCompiler = (_ctx, argv): KvPlan | Reply => {
  const cursor = scanCursor(argv[2]);
  if (cursor === null) return R.error('ERR invalid cursor');
  const opts = scanOptions(argv, 3, false);
  if (isReply(opts)) {
    const bad = opts;
    return single({ type: 'type', key: argv[1] }, (r) => {
      if (r.type !== 'status') return resultReply(r);
      if (r.value === 'none') return R.array([R.bulk('0'), R.EMPTY_ARRAY]);
      return r.value === 'hash' ? bad : R.error(ERR.wrongType);
    });
  }
  const op: OpOf<'hscan'> = { type: 'hscan', key: argv[1], cursor, count: opts.count };
  if (opts.match !== undefined) op.match = opts.match;
  return single(op);
};

const hincrby: KvCompiler = (_ctx, argv) => {
  const delta = int64OrReply(argv[3]);
  if (isReply(delta)) return delta;
  return single({ type: 'hincrby', key: argv[1], field: argv[2], delta });
};

export const HASH_COMMANDS = {
  hset: kv(hsetLike('hset')),
  hmset: kv(hsetLike('hmset')),
  hsetnx: kv((_ctx, argv) => single({ type: 'hset', key: argv[1], pairs: [[argv[2], argv[3]]], nx: true })),
  hget: kv((ctx, argv) => single({ type: 'hget', key: argv[1], field: argv[2] }, ctx.lookup)),
  hmget: kv((_ctx, argv) => single({ type: 'hmget', key: argv[1], fields: argv.slice(2) })),
  hgetall: kv((_ctx, argv) => single({ type: 'hgetall', key: argv[1] }, mapReply)),
  hdel: kv((_ctx, argv) => single({ type: 'hdel', key: argv[1], fields: argv.slice(2) })),
  hexists: kv((_ctx, argv) => single({ type: 'hexists', key: argv[1], field: argv[2] })),
  hlen: kv((_ctx, argv) => single({ type: 'hlen', key: argv[1] })),
  hkeys: kv((_ctx, argv) => single({ type: 'hkeys', key: argv[1] })),
  hvals: kv((_ctx, argv) => single({ type: 'hvals', key: argv[1] })),
  hstrlen: kv((_ctx, argv) => single({ type: 'hstrlen', key: argv[1], field: argv[2] })),
  hincrby: kv(hincrby),
  hincrbyfloat: kv(hincrbyfloat),
  hrandfield: kv(hrandfield),
  hscan: kv(hscan),
} as const satisfies Record<string, CommandImpl>;
