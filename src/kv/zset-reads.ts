/**
 * The read ops of the sorted-set commands (issue 14): ZSCORE ZMSCORE ZCARD ZCOUNT ZRANK
 * ZREVRANK, evaluated like type-reads.ts's (by apply inside a MULTI, by KvStore for a read
 * served alone). A score is answered as its `%.17g` text (structs/float.ts), a bulk string; the
 * front end sends it as a RESP3 double where Redis does. Bounds are read again from the op's
 * text (scores.ts), so a bad one in an entry is an error reply, not a throw.
 */
import { fromBinary, toBinary } from './bytes.ts';
import type { KvOp } from './ops.ts';
import { bulk, error, int, type KvResult, NIL, WRONGTYPE } from './results.ts';
import { parseScoreBound, ZSET_ERR } from './scores.ts';
import { formatScore } from './structs/float.ts';
import { SortedSet } from './structs/zset.ts';
import type { ReadHost } from './type-reads.ts';
import { zsetRangeOp } from './zset-ranges.ts';

/** The key's sorted set, undefined when missing, WRONGTYPE when it holds another kind. */
export function findZset(host: ReadHost, key: Uint8Array): SortedSet | undefined | KvResult {
  const item = host.find(toBinary(key));
  if (item === undefined) return undefined;
  if (!(item.value instanceof SortedSet)) return WRONGTYPE;
  host.touch(item);
  return item.value;
}

function scoreResult(score: number | undefined): KvResult {
  return score === undefined ? NIL : bulk(fromBinary(formatScore(score)));
}

/** A sorted-set read op; undefined for any other op. */
export function readZset(host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'zcount': {
      // zcountCommand parses the range before it looks the key up.
      const min = parseScoreBound(toBinary(op.min));
      const max = parseScoreBound(toBinary(op.max));
      if (min === null || max === null) return error(ZSET_ERR.boundNotFloat);
      const z = findZset(host, op.key);
      if (!(z instanceof SortedSet)) return z ?? int(0);
      return int(z.countByScore(min, max));
    }
    case 'zscore':
    case 'zmscore':
    case 'zcard':
    case 'zrank':
      break;
    default:
      return zsetRangeOp(null, host, op);
  }
  const z = findZset(host, op.key);
  if (z !== undefined && !(z instanceof SortedSet)) return z;
  switch (op.type) {
    case 'zscore':
      return scoreResult(z?.score(toBinary(op.member)));
    case 'zmscore':
      return { type: 'array', value: op.members.map((m) => scoreResult(z?.score(toBinary(m)))) };
    case 'zcard':
      return int(z?.size ?? 0);
    case 'zrank': {
      const r = z?.rank(toBinary(op.member), op.rev === true);
      return r === undefined ? NIL : int(r);
    }
  }
}
