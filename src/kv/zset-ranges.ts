/**
 * Sorted-set ranges (issue 14): ZRANGE in all its forms, ZRANGESTORE, ZLEXCOUNT and the
 * ZREMRANGEBY* commands, as t_zset.c's zrangeGenericCommand and zremrangeGenericCommand do them:
 * the range parsed first (ranks as getLongFromObject, scores as zslParseRange, lex items as
 * zslParseLexRangeItem; scores.ts), then the key. Ranks resolve as Redis sanitizes them
 * (negative from the end, clamped), and every range is a rank span on the tree: O(log n + m).
 * Also the destination rule every Z*STORE shares: the result replaces the key, TTL and all, or
 * deletes it when empty.
 */
import type { ApplyContext } from './apply.ts';
import { fromBinary, toBinary } from './bytes.ts';
import { parseInt64 } from './numbers.ts';
import { type KvOp, type OpOf, ZRANGE_BY } from './ops.ts';
import { bulk, ERR, error, int, type KvResult, WRONGTYPE } from './results.ts';
import { parseLexBound, parseScoreBound, ZSET_ERR } from './scores.ts';
import { formatScore } from './structs/float.ts';
import { SortedSet, type ZEntry, ZSET_MAX_LISTPACK_ENTRIES, ZSET_MAX_LISTPACK_VALUE } from './structs/zset.ts';
import type { LexBound, Limit, ScoreBound } from './structs/zset-bounds.ts';
import type { ReadHost } from './type-reads.ts';
import { edit } from './type-writes.ts';
import { zsetCombineOp } from './zset-combine.ts';
import { findZset } from './zset-reads.ts';

const EMPTY: KvResult = Object.freeze({ type: 'array', value: [] });

type Range = { by: 'rank'; start: number; end: number } | { by: 'score'; min: ScoreBound; max: ScoreBound } | { by: 'lex'; min: LexBound; max: LexBound };

/** A long within what a rank can mean: beyond +-2^53 it resolves like +-2^53 (no set is that big). */
function rankOf(text: string): number | null {
  const v = parseInt64(text);
  if (v === null) return null;
  if (typeof v === 'number') return v;
  return v < 0n ? -(2 ** 53) : 2 ** 53;
}

/** The range of a zrange / zrangestore / zremrange op, or its error reply. */
export function parseRange(by: number, minText: Uint8Array, maxText: Uint8Array): Range | KvResult {
  const min = toBinary(minText);
  const max = toBinary(maxText);
  switch (by) {
    case ZRANGE_BY.rank: {
      const start = rankOf(min);
      const end = start === null ? null : rankOf(max);
      if (start === null || end === null) return error(ERR.notInteger);
      return { by: 'rank', start, end };
    }
    case ZRANGE_BY.score: {
      const lo = parseScoreBound(min);
      const hi = parseScoreBound(max);
      if (lo === null || hi === null) return error(ZSET_ERR.boundNotFloat);
      return { by: 'score', min: lo, max: hi };
    }
    case ZRANGE_BY.lex: {
      const lo = parseLexBound(min);
      const hi = parseLexBound(max);
      if (lo === null || hi === null) return error(ZSET_ERR.lexBound);
      return { by: 'lex', min: lo, max: hi };
    }
    default:
      return error(ERR.syntax);
  }
}

export function isRange(r: Range | KvResult): r is Range {
  return 'by' in r;
}

/** Ranks start..end as Redis sanitizes them: [from, to) on the set, empty when out of range. */
function rankSpan(size: number, start: number, end: number): [number, number] {
  if (start < 0) start += size;
  if (end < 0) end += size;
  if (start < 0) start = 0;
  if (start > end || start >= size) return [0, 0];
  return [start, Math.min(end, size - 1) + 1];
}

/** The entries of `range`, reversed with `rev`; `limit` applies to scores and lex only. */
function entriesOf(z: SortedSet, range: Range, rev: boolean, limit: Limit | undefined): ZEntry[] {
  if (range.by === 'rank') {
    const [from, to] = rankSpan(z.size, range.start, range.end);
    return to > from ? z.rangeByRank(from, to - 1, rev) : [];
  }
  if (range.by === 'score') return z.rangeByScore(range.min, range.max, rev, limit);
  return z.rangeByLex(range.min, range.max, rev, limit);
}

function limitOf(op: { offset?: number; count?: number }): Limit | undefined {
  return op.offset === undefined ? undefined : { offset: op.offset, count: op.count ?? -1 };
}

/** The flat [member, score?, ...] reply of a range. */
function rangeResult(entries: readonly ZEntry[], withScores: boolean): KvResult {
  const out: KvResult[] = [];
  for (const [m, s] of entries) {
    out.push(bulk(fromBinary(m)));
    if (withScores) out.push(bulk(fromBinary(formatScore(s))));
  }
  return { type: 'array', value: out };
}

/**
 * A new sorted set for `n` entries, as Redis creates a Z*STORE destination: a skiplist from the
 * start when it will not be a listpack (so it keeps a -0 a listpack would turn into 0).
 */
export function zsetFor(n: number, maxLen: number): SortedSet {
  return n > ZSET_MAX_LISTPACK_ENTRIES || maxLen > ZSET_MAX_LISTPACK_VALUE ? SortedSet.skiplist() : new SortedSet();
}

/** A Z*STORE result replaces `key` (its TTL dropped), or deletes it when empty; replies the size. */
export function storeZset(ctx: ApplyContext, host: ReadHost, key: string, z: SortedSet): KvResult {
  const dest = host.find(key);
  if (z.size === 0) {
    if (dest !== undefined) ctx.ks.remove(dest, ctx.index);
    return int(0);
  }
  if (dest === undefined) ctx.ks.create(key, z, 0, ctx.index);
  else {
    ctx.ks.setValue(dest, z, ctx.index);
    ctx.ks.setExpiry(dest, 0, ctx.index);
    ctx.ks.lru.touch(dest);
  }
  return int(z.size);
}

function zrange(host: ReadHost, op: OpOf<'zrange'>): KvResult {
  if (op.withScores && op.by === ZRANGE_BY.lex) return error('ERR syntax error, WITHSCORES not supported in combination with BYLEX');
  if (op.offset !== undefined && op.by === ZRANGE_BY.rank)
    return error('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  const range = parseRange(op.by, op.min, op.max);
  if (!isRange(range)) return range;
  const z = findZset(host, op.key);
  if (!(z instanceof SortedSet)) return z ?? EMPTY;
  return rangeResult(entriesOf(z, range, op.rev === true, limitOf(op)), op.withScores === true);
}

/** ZRANGESTORE (zrangeGenericCommand with a store handler): a missing source empties `dest`. */
function zrangestore(ctx: ApplyContext, host: ReadHost, op: OpOf<'zrangestore'>): KvResult {
  if (op.offset !== undefined && op.by === ZRANGE_BY.rank)
    return error('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  const range = parseRange(op.by, op.min, op.max);
  if (!isRange(range)) return range;
  const item = host.find(toBinary(op.key));
  if (item !== undefined && !(item.value instanceof SortedSet)) return WRONGTYPE;
  const entries = item === undefined ? [] : entriesOf(item.value as SortedSet, range, op.rev === true, limitOf(op));
  // zsetTypeCreate(length, 0): the length decides, a long member converts as it is added.
  const out = zsetFor(entries.length, 0);
  for (const [m, s] of entries) out.set(m, s);
  return storeZset(ctx, host, toBinary(op.dest), out);
}

/** ZREMRANGEBYRANK / BYSCORE / BYLEX: the range, then the key; an emptied set is deleted. */
function zremrange(ctx: ApplyContext, host: ReadHost, op: OpOf<'zremrange'>): KvResult {
  const range = parseRange(op.by, op.min, op.max);
  if (!isRange(range)) return range;
  const key = toBinary(op.key);
  const item = host.find(key);
  if (item === undefined) return int(0);
  const z = item.value;
  if (!(z instanceof SortedSet)) return WRONGTYPE;
  let span: [number, number];
  if (range.by === 'rank') span = rankSpan(z.size, range.start, range.end);
  else span = range.by === 'score' ? z.scoreSpan(range.min, range.max) : z.lexSpan(range.min, range.max);
  if (span[1] <= span[0]) return int(0);
  let removed = 0;
  edit(ctx, key, item, z, () => {
    removed = z.removeSpan(span).length;
  });
  return int(removed);
}

/** The range ops; undefined for any other op. */
export function zsetRangeOp(ctx: ApplyContext | null, host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'zrange':
      return zrange(host, op);
    case 'zlexcount': {
      const range = parseRange(ZRANGE_BY.lex, op.min, op.max);
      if (!isRange(range) || range.by !== 'lex') return range as KvResult;
      const z = findZset(host, op.key);
      if (!(z instanceof SortedSet)) return z ?? int(0);
      return int(z.countByLex(range.min, range.max));
    }
    case 'zrangestore':
      return ctx === null ? undefined : zrangestore(ctx, host, op);
    case 'zremrange':
      return ctx === null ? undefined : zremrange(ctx, host, op);
    default:
      return zsetCombineOp(ctx, host, op);
  }
}
