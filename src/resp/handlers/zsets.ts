/**
 * Sorted-set commands (issue 14): ZADD ZINCRBY ZSCORE ZMSCORE ZCARD ZCOUNT ZRANK ZREVRANK ZREM
 * ZPOPMIN ZPOPMAX ZMPOP. Arguments are parsed like Redis 7.0's t_zset.c (same checks, same
 * order, same errors) before anything is proposed; the state machine does the rest
 * (src/kv/zset-writes.ts, zset-reads.ts) and answers scores as their `%.17g` text, which is
 * sent here as a double (a RESP3 `,`, a bulk string in RESP2), and pairs nested as Redis nests
 * them in RESP3.
 */
import { OP_INT_MAX } from '../../kv/codec-types.ts';
import { type KvResult, type OpOf, parseInt64, ZRANGE_BY } from '../../kv/index.ts';
import { parseLexBound, parseScore, parseScoreBound, ZSET_ERR } from '../../kv/scores.ts';
import { R, type Reply } from '../reply.ts';
import { buf, int64, isReply, option, SYNTAX_ERROR } from './args.ts';
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

const NOT_INTEGER = R.error('ERR value is not an integer or out of range');
const LIMIT_RANK = R.error('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
const SCORES_LEX = R.error('ERR syntax error, WITHSCORES not supported in combination with BYLEX');

/** getLongFromObjectOrReply: a long, clamped to what the codec carries (OP_INT_MAX; no set is bigger). */
function long(arg: Buffer): number | null {
  const v = parseInt64(arg.toString('latin1'));
  if (v === null) return null;
  if (typeof v === 'number') return Math.max(-OP_INT_MAX, Math.min(OP_INT_MAX, v));
  return v < 0n ? -OP_INT_MAX : OP_INT_MAX;
}

/** The range's two ends are valid for `by` (zslParseRange, zslParseLexRange, longs). */
function rangeError(by: number, min: Buffer, max: Buffer): Reply | null {
  if (by === ZRANGE_BY.rank) return long(min) === null || long(max) === null ? NOT_INTEGER : null;
  if (by === ZRANGE_BY.score) {
    return parseScoreBound(min.toString('latin1')) === null || parseScoreBound(max.toString('latin1')) === null ? R.error(ZSET_ERR.boundNotFloat) : null;
  }
  return parseLexBound(min.toString('latin1')) === null || parseLexBound(max.toString('latin1')) === null ? R.error(ZSET_ERR.lexBound) : null;
}

/** A range as zrangeGenericCommand reads it, or its error. */
interface ParsedRange {
  key: Buffer;
  min: Buffer;
  max: Buffer;
  by: number;
  rev: boolean;
  withScores: boolean;
  offset?: number;
  count?: number;
}

/**
 * zrangeGenericCommand's parse: the options after `key min max` (WITHSCORES unless storing,
 * LIMIT with two longs, REV and BYSCORE/BYLEX where the command leaves them open), the
 * conflicts, then the range; reversed score and lex ranges come as max, min.
 */
function parseRange(argv: Buffer[], at: number, store: boolean, fixedBy: number | null, fixedRev: boolean | null): ParsedRange | Reply {
  let by = fixedBy;
  let rev = fixedRev;
  let withScores = false;
  let offset: number | undefined;
  let count: number | undefined;
  for (let j = at + 3; j < argv.length; j++) {
    const o = option(argv[j]);
    const left = argv.length - j - 1;
    if (!store && o === 'withscores') withScores = true;
    else if (o === 'limit' && left >= 2) {
      offset = long(argv[j + 1]) ?? undefined;
      if (offset === undefined) return NOT_INTEGER;
      count = long(argv[j + 2]) ?? undefined;
      if (count === undefined) return NOT_INTEGER;
      j += 2;
    } else if (fixedRev === null && rev === null && o === 'rev') rev = true;
    else if (fixedBy === null && by === null && o === 'bylex') by = ZRANGE_BY.lex;
    else if (fixedBy === null && by === null && o === 'byscore') by = ZRANGE_BY.score;
    else return SYNTAX_ERROR;
  }
  by ??= ZRANGE_BY.rank;
  rev ??= false;
  // A LIMIT of -1 count is "none given" to Redis: only a real one conflicts with ranks.
  if (count !== undefined && count !== -1 && by === ZRANGE_BY.rank) return LIMIT_RANK;
  if (withScores && by === ZRANGE_BY.lex) return SCORES_LEX;
  let min = argv[at + 1];
  let max = argv[at + 2];
  if (rev && by !== ZRANGE_BY.rank) [min, max] = [max, min];
  const bad = rangeError(by, min, max);
  if (bad !== null) return bad;
  const out: ParsedRange = { key: argv[at], min, max, by, rev, withScores };
  if (offset !== undefined && by !== ZRANGE_BY.rank) {
    out.offset = offset;
    out.count = count;
  }
  return out;
}

function zrangeLike(fixedBy: number | null, fixedRev: boolean | null): KvCompiler {
  return (_ctx, argv) => {
    const r = parseRange(argv, 1, false, fixedBy, fixedRev);
    if (isReply(r)) return r;
    const op: OpOf<'zrange'> = { type: 'zrange', key: r.key, min: r.min, max: r.max, by: r.by };
    if (r.rev) op.rev = true;
    if (r.withScores) op.withScores = true;
    if (r.offset !== undefined) {
      op.offset = r.offset;
      op.count = r.count;
    }
    return single(op, r.withScores ? pairsReply : resultReply);
  };
}

const zrangestore: KvCompiler = (_ctx, argv) => {
  const r = parseRange(argv, 2, true, null, null);
  if (isReply(r)) return r;
  const op: OpOf<'zrangestore'> = { type: 'zrangestore', key: r.key, dest: argv[1], min: r.min, max: r.max, by: r.by };
  if (r.rev) op.rev = true;
  if (r.offset !== undefined) {
    op.offset = r.offset;
    op.count = r.count;
  }
  return single(op);
};

function zremrange(by: number): KvCompiler {
  return (_ctx, argv) => rangeError(by, argv[2], argv[3]) ?? single({ type: 'zremrange', key: argv[1], min: argv[2], max: argv[3], by });
}

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
  zrange: kv(zrangeLike(null, null)),
  zrangebyscore: kv(zrangeLike(ZRANGE_BY.score, false)),
  zrevrangebyscore: kv(zrangeLike(ZRANGE_BY.score, true)),
  zrangebylex: kv(zrangeLike(ZRANGE_BY.lex, false)),
  zrevrangebylex: kv(zrangeLike(ZRANGE_BY.lex, true)),
  zrevrange: kv(zrangeLike(ZRANGE_BY.rank, true)),
  zrangestore: kv(zrangestore),
  zlexcount: kv((_ctx, argv) => rangeError(ZRANGE_BY.lex, argv[2], argv[3]) ?? single({ type: 'zlexcount', key: argv[1], min: argv[2], max: argv[3] })),
  zremrangebyrank: kv(zremrange(ZRANGE_BY.rank)),
  zremrangebyscore: kv(zremrange(ZRANGE_BY.score)),
  zremrangebylex: kv(zremrange(ZRANGE_BY.lex)),
} as const satisfies Record<string, CommandImpl>;
