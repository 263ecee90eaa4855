/**
 * Sorted-set commands (issue 14): ZADD ZINCRBY ZSCORE ZMSCORE ZCARD ZCOUNT ZRANK ZREVRANK ZREM
 * ZPOPMIN ZPOPMAX ZMPOP. Arguments are parsed like Redis 7.0's t_zset.c (same checks, same
 * order, same errors) before anything is proposed; the state machine does the rest
 * (src/kv/zset-writes.ts, zset-reads.ts) and answers scores as their `%.17g` text, which is
 * sent here as a double (a RESP3 `,`, a bulk string in RESP2), and pairs nested as Redis nests
 * them in RESP3.
 */
import type { KvResult, OpOf } from '../../kv/index.ts';
import { parseScore, parseScoreBound, ZSET_ERR } from '../../kv/scores.ts';
import { R, type Reply } from '../reply.ts';
import { buf, int64, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type KvCompiler, kv } from './context.ts';
import { resultReply, single } from './plan.ts';

const NOT_POSITIVE = 'ERR value is out of range, must be positive';

/** A score's `%.17g` text (from the state machine) as a double reply; the encoder prints it back alike. */
export function scoreReply(r: KvResult): Reply {
  if (r.type !== 'bulk') return resultReply(r);
  const text = buf(r.value).toString('latin1');
  return R.double(text === 'inf' ? Number.POSITIVE_INFINITY : text === '-inf' ? Number.NEGATIVE_INFINITY : Number(text));
}

/** A flat [member, score, ...] result as [member, double] pairs (nested in RESP3). */
export function pairsReply(r: KvResult): Reply {
  if (r.type !== 'array') return resultReply(r);
  const pairs: [Reply, Reply][] = [];
  for (let i = 0; i + 1 < r.value.length; i += 2) pairs.push([resultReply(r.value[i]), scoreReply(r.value[i + 1])]);
  return R.pairs(pairs);
}

/** A flat [member, score, ...] result, flat in both protocols (the scores doubles). */
export function flatReply(r: KvResult): Reply {
  if (r.type !== 'array') return resultReply(r);
  return R.array(r.value.map((v, i) => (i % 2 === 1 ? scoreReply(v) : resultReply(v))));
}

/** [member, score] pairs nested in both protocols (ZMPOP's). */
function nestedReply(r: KvResult): Reply {
  if (r.type !== 'array') return resultReply(r);
  const out: Reply[] = [];
  for (let i = 0; i + 1 < r.value.length; i += 2) out.push(R.array([resultReply(r.value[i]), scoreReply(r.value[i + 1])]));
  return R.array(out);
}

/** getRangeLongFromObjectOrReply(min..LONG_MAX) with a message for any bad value. */
function rangeLong(arg: Buffer, min: bigint, message: string): number | Reply {
  const n = int64(arg);
  if (n === null || n < min) return R.error(message);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/**
 * ZADD / ZINCRBY (zaddGenericCommand): options from argv[2] on (ZINCRBY too: `ZINCRBY k nx m`
 * reads NX and then finds one argument, a syntax error), an even number of score-member
 * arguments, the incompatible options, every score; the key is the state machine's.
 */
function zaddLike(incrCommand: boolean): KvCompiler {
  return (_ctx, argv) => {
    const op: OpOf<'zadd'> = { type: 'zadd', key: argv[1], pairs: [] };
    if (incrCommand) op.incr = true;
    let i = 2;
    for (; i < argv.length; i++) {
      const o = option(argv[i]);
      if (o === 'nx') op.nx = true;
      else if (o === 'xx') op.xx = true;
      else if (o === 'ch') op.ch = true;
      else if (o === 'incr') op.incr = true;
      else if (o === 'gt') op.gt = true;
      else if (o === 'lt') op.lt = true;
      else break;
    }
    const n = argv.length - i;
    if (n === 0 || n % 2 === 1) return SYNTAX_ERROR;
    if (op.nx && op.xx) return R.error(ZSET_ERR.nxAndXx);
    if ((op.gt && op.nx) || (op.lt && op.nx) || (op.gt && op.lt)) return R.error(ZSET_ERR.gtLtNx);
    if (op.incr && n > 2) return R.error(ZSET_ERR.incrPairs);
    for (; i < argv.length; i += 2) {
      if (parseScore(argv[i].toString('latin1')) === null) return R.error(ZSET_ERR.notFloat);
      op.pairs.push([argv[i], argv[i + 1]]);
    }
    return single(op, op.incr ? scoreReply : resultReply);
  };
}

/** ZCOUNT key min max: the range is parsed before the key is looked up. */
const zcount: KvCompiler = (_ctx, argv) => {
  if (parseScoreBound(argv[2].toString('latin1')) === null || parseScoreBound(argv[3].toString('latin1')) === null) {
    return R.error(ZSET_ERR.boundNotFloat);
  }
  return single({ type: 'zcount', key: argv[1], min: argv[2], max: argv[3] });
};

/** ZPOPMIN / ZPOPMAX key [count]: a count nests the pairs in RESP3; none answers one flat pair. */
function zpop(max: boolean): KvCompiler {
  return (_ctx, argv) => {
    if (argv.length > 3) return SYNTAX_ERROR;
    const op: OpOf<'zpop'> = { type: 'zpop', key: argv[1] };
    if (max) op.max = true;
    if (argv.length === 2) return single(op, flatReply);
    const count = rangeLong(argv[2], 0n, NOT_POSITIVE);
    if (typeof count !== 'number') return count;
    op.count = count;
    return single(op, pairsReply);
  };
}

/** ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] (zmpopGenericCommand). */
const zmpop: KvCompiler = (_ctx, argv) => {
  const numkeys = rangeLong(argv[1], 1n, 'ERR numkeys should be greater than 0');
  if (typeof numkeys !== 'number') return numkeys;
  const whereAt = 2 + numkeys;
  if (whereAt >= argv.length) return SYNTAX_ERROR;
  const where = option(argv[whereAt]);
  if (where !== 'min' && where !== 'max') return SYNTAX_ERROR;
  let count = -1;
  for (let j = whereAt + 1; j < argv.length; j++) {
    if (count === -1 && option(argv[j]) === 'count' && j < argv.length - 1) {
      const c = rangeLong(argv[++j], 1n, 'ERR count should be greater than 0');
      if (typeof c !== 'number') return c;
      count = c;
    } else return SYNTAX_ERROR;
  }
  const op: OpOf<'zmpop'> = { type: 'zmpop', keys: argv.slice(2, whereAt), count: count === -1 ? 1 : count };
  if (where === 'max') op.max = true;
  return single(op, (r) => {
    if (r.type === 'nil') return R.NULL_ARRAY;
    if (r.type !== 'array') return resultReply(r);
    return R.array([resultReply(r.value[0]), nestedReply(r.value[1])]);
  });
};

export const ZSET_COMMANDS = {
  zadd: kv(zaddLike(false)),
  zincrby: kv(zaddLike(true)),
  zscore: kv((_ctx, argv) => single({ type: 'zscore', key: argv[1], member: argv[2] }, scoreReply)),
  zmscore: kv((_ctx, argv) =>
    single({ type: 'zmscore', key: argv[1], members: argv.slice(2) }, (r) => (r.type === 'array' ? R.array(r.value.map(scoreReply)) : resultReply(r))),
  ),
  zcard: kv((_ctx, argv) => single({ type: 'zcard', key: argv[1] })),
  zcount: kv(zcount),
  zrank: kv((_ctx, argv) => single({ type: 'zrank', key: argv[1], member: argv[2] })),
  zrevrank: kv((_ctx, argv) => single({ type: 'zrank', key: argv[1], member: argv[2], rev: true })),
  zrem: kv((_ctx, argv) => single({ type: 'zrem', key: argv[1], members: argv.slice(2) })),
  zpopmin: kv(zpop(false)),
  zpopmax: kv(zpop(true)),
  zmpop: kv(zmpop),
} as const satisfies Record<string, CommandImpl>;
