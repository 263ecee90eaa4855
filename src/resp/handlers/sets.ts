/**
 * Set commands (issue 14): SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE
 * SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN. Arguments are parsed
 * like Redis 7.0's t_set.c (same checks, same order, same errors) before anything is proposed;
 * the state machine does the rest (src/kv/type-writes.ts, type-reads.ts). Replies that Redis
 * sends as sets are RESP3 sets (`~`).
 */
import { OP_INT_MAX } from '../../kv/codec-types.ts';
import { ERR, ERR_RANDOM_COUNT, type KvResult, MAX_RANDOM_COUNT, type OpOf, SET_MODE } from '../../kv/index.ts';
import { R, type Reply } from '../reply.ts';
import { int64, isReply, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type KvCompiler, kv } from './context.ts';
import { scanCursor, scanOptions } from './keys.ts';
import { type KvPlan, resultReply, single } from './plan.ts';

const LONG_MAX = 2n ** 63n - 1n;
const NOT_POSITIVE = R.error('ERR value is out of range, must be positive');

/** An array result as a RESP3 set (an array in RESP2). */
function setReply(r: KvResult): Reply {
  return r.type === 'array' ? R.set(r.value.map(resultReply)) : resultReply(r);
}

/** SPOP key [count]: a count is getPositiveLongFromObjectOrReply's (any bad one is "must be positive"). */
const spop: KvCompiler = (_ctx, argv) => {
  if (argv.length === 2) return single({ type: 'spop', key: argv[1] });
  if (argv.length > 3) return SYNTAX_ERROR;
  const n = int64(argv[2]);
  if (n === null || n < 0n) return NOT_POSITIVE;
  const count = n > BigInt(OP_INT_MAX) ? OP_INT_MAX : Number(n);
  return single({ type: 'spop', key: argv[1], count }, setReply);
};

/** SRANDMEMBER key [count]. */
const srandmember: KvCompiler = (_ctx, argv) => {
  if (argv.length === 2) return single({ type: 'srandmember', key: argv[1] });
  if (argv.length > 3) return SYNTAX_ERROR;
  const n = int64(argv[2]);
  if (n === null) return R.error(ERR.notInteger);
  if (n < -LONG_MAX) return R.error(`ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`);
  if (n < -BigInt(MAX_RANDOM_COUNT)) return R.error(ERR_RANDOM_COUNT);
  const count = n > BigInt(OP_INT_MAX) ? OP_INT_MAX : Number(n);
  return single({ type: 'srandmember', key: argv[1], count });
};

/** SINTERCARD numkeys key [key ...] [LIMIT limit] (sinterCardCommand). */
const sintercard: KvCompiler = (_ctx, argv) => {
  const n = int64(argv[1]);
  if (n === null || n < 1n) return R.error('ERR numkeys should be greater than 0');
  if (n > BigInt(argv.length - 2)) return R.error("ERR Number of keys can't be greater than number of args");
  const numkeys = Number(n);
  let limit = 0;
  for (let i = 2 + numkeys; i < argv.length; i++) {
    if (option(argv[i]) === 'limit' && i < argv.length - 1) {
      const l = int64(argv[++i]);
      if (l === null || l < 0n) return R.error("ERR LIMIT can't be negative");
      limit = l > BigInt(OP_INT_MAX) ? OP_INT_MAX : Number(l);
    } else return SYNTAX_ERROR;
  }
  return single({ type: 'sintercard', keys: argv.slice(2, 2 + numkeys), limit });
};

/** SSCAN key cursor [MATCH pattern] [COUNT count]: the cursor, then the key, then the options (as HSCAN). */
const sscan: KvCompiler = (_ctx, argv): KvPlan | Reply => {
  const cursor = scanCursor(argv[2]);
  if (cursor === null) return R.error('ERR invalid cursor');
  const opts = scanOptions(argv, 3, false);
  if (isReply(opts)) {
    const bad = opts;
    return single({ type: 'type', key: argv[1] }, (r) => {
      if (r.type !== 'status') return resultReply(r);
      if (r.value === 'none') return R.array([R.bulk('0'), R.EMPTY_ARRAY]);
      return r.value === 'set' ? bad : R.error(ERR.wrongType);
    });
  }
  const op: OpOf<'sscan'> = { type: 'sscan', key: argv[1], cursor, count: opts.count };
  if (opts.match !== undefined) op.match = opts.match;
  return single(op);
};

const combine =
  (mode: number): KvCompiler =>
  (_ctx, argv) =>
    single({ type: 'scombine', keys: argv.slice(1), mode }, setReply);

const store =
  (mode: number): KvCompiler =>
  (_ctx, argv) =>
    single({ type: 'sstore', key: argv[1], keys: argv.slice(2), mode });

export const SET_COMMANDS = {
  sadd: kv((_ctx, argv) => single({ type: 'sadd', key: argv[1], members: argv.slice(2) })),
  srem: kv((_ctx, argv) => single({ type: 'srem', key: argv[1], members: argv.slice(2) })),
  smembers: kv((_ctx, argv) => single({ type: 'smembers', key: argv[1] }, setReply)),
  sismember: kv((_ctx, argv) => single({ type: 'sismember', key: argv[1], member: argv[2] })),
  smismember: kv((_ctx, argv) => single({ type: 'smismember', key: argv[1], members: argv.slice(2) })),
  scard: kv((_ctx, argv) => single({ type: 'scard', key: argv[1] })),
  spop: kv(spop),
  srandmember: kv(srandmember),
  smove: kv((_ctx, argv) => single({ type: 'smove', key: argv[1], dest: argv[2], member: argv[3] })),
  sinter: kv(combine(SET_MODE.inter)),
  sunion: kv(combine(SET_MODE.union)),
  sdiff: kv(combine(SET_MODE.diff)),
  sintercard: kv(sintercard),
  sinterstore: kv(store(SET_MODE.inter)),
  sunionstore: kv(store(SET_MODE.union)),
  sdiffstore: kv(store(SET_MODE.diff)),
  sscan: kv(sscan),
} as const satisfies Record<string, CommandImpl>;
