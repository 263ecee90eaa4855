/**
 * The write ops of the sorted-set commands (issue 14): ZADD and ZINCRBY, ZREM, ZPOPMIN,
 * ZPOPMAX and ZMPOP, in t_zset.c's order of checks and with its replies. Like every op they are
 * total: a score or bound is read again from the entry's text (scores.ts) and a bad one is an
 * error reply, never a throw. Edits go through type-writes.ts's `edit` (copy-on-write for a
 * running snapshot, the version, the accounted bytes), and a sorted set left empty is deleted.
 * A command that changes nothing leaves the key's version alone, as Redis signals no change.
 */
import type { ApplyContext } from './apply.ts';
import { fromBinary, toBinary } from './bytes.ts';
import type { KvOp, OpOf } from './ops.ts';
import { bulk, ERR, error, int, type KvResult, NIL, WRONGTYPE } from './results.ts';
import { parseScore, ZSET_ERR } from './scores.ts';
import { formatScore } from './structs/float.ts';
import { SortedSet, type ZEntry } from './structs/zset.ts';
import type { ReadHost } from './type-reads.ts';
import { edit, MAX_ELEMENT_BYTES, SET_ERR } from './type-writes.ts';
import { zsetRangeOp } from './zset-ranges.ts';

const EMPTY: KvResult = Object.freeze({ type: 'array', value: [] });

/** Entries as the flat [member, score, ...] array a pop answers (the front end nests it). */
export function entriesResult(entries: readonly ZEntry[]): KvResult {
  const out: KvResult[] = [];
  for (const [m, s] of entries) out.push(bulk(fromBinary(m)), bulk(fromBinary(formatScore(s))));
  return { type: 'array', value: out };
}

/** zaddGenericCommand: options checked, every score parsed, then the key, then each pair. */
function zadd(ctx: ApplyContext, host: ReadHost, op: OpOf<'zadd'>): KvResult {
  if (op.pairs.length === 0) return error(ERR.syntax);
  if (op.nx && op.xx) return error(ZSET_ERR.nxAndXx);
  if ((op.gt && op.nx) || (op.lt && op.nx) || (op.gt && op.lt)) return error(ZSET_ERR.gtLtNx);
  if (op.incr && op.pairs.length > 1) return error(ZSET_ERR.incrPairs);
  const scores: number[] = [];
  for (const [s, m] of op.pairs) {
    if (m.length > MAX_ELEMENT_BYTES) return error(ERR.tooBig);
    const score = parseScore(toBinary(s));
    if (score === null) return error(ZSET_ERR.notFloat);
    scores.push(score);
  }
  const key = toBinary(op.key);
  const item = host.find(key);
  if (item !== undefined && !(item.value instanceof SortedSet)) return WRONGTYPE;
  if (item === undefined && op.xx) return op.incr ? NIL : int(0);
  const z = item === undefined ? new SortedSet() : (item.value as SortedSet);
  // zsetAdd per pair, decided first against the scores as the earlier pairs leave them.
  const pending = new Map<string, number>();
  let added = 0;
  let updated = 0;
  let processed = 0;
  let score = 0;
  for (let j = 0; j < op.pairs.length; j++) {
    const member = toBinary(op.pairs[j][1]);
    let next = scores[j];
    const cur = pending.has(member) ? pending.get(member) : z.score(member);
    if (cur !== undefined) {
      if (op.nx) continue;
      if (op.incr) {
        next += cur;
        if (Number.isNaN(next)) return error(ZSET_ERR.nan);
      }
      if ((op.lt && next >= cur) || (op.gt && next <= cur)) continue;
      processed++;
      score = next;
      if (next !== cur) {
        pending.set(member, next);
        updated++;
      }
    } else if (!op.xx) {
      pending.set(member, next);
      added++;
      processed++;
      score = next;
    }
  }
  if (added + updated > 0) {
    edit(ctx, key, item, z, () => {
      for (const [m, s] of pending) z.set(m, s);
    });
  }
  if (op.incr) return processed > 0 ? bulk(fromBinary(formatScore(score))) : NIL;
  return int(op.ch ? added + updated : added);
}

function zrem(ctx: ApplyContext, host: ReadHost, op: OpOf<'zrem'>): KvResult {
  const key = toBinary(op.key);
  const item = host.find(key);
  if (item === undefined) return int(0);
  const z = item.value;
  if (!(z instanceof SortedSet)) return WRONGTYPE;
  const members = op.members.map(toBinary);
  if (!members.some((m) => z.score(m) !== undefined)) return int(0);
  let removed = 0;
  edit(ctx, key, item, z, () => {
    for (const m of members) if (z.remove(m)) removed++;
  });
  return int(removed);
}

/** Pops `count` entries from the key's sorted set (which holds at least one). */
function popFrom(ctx: ApplyContext, host: ReadHost, key: string, count: number, max: boolean): ZEntry[] {
  const item = host.find(key)!;
  const z = item.value as SortedSet;
  let popped: ZEntry[] = [];
  edit(ctx, key, item, z, () => {
    popped = z.pop(count, max);
  });
  return popped;
}

/** ZPOPMIN / ZPOPMAX (genericZpopCommand): a missing key or a count of 0 is an empty array. */
function zpop(ctx: ApplyContext, host: ReadHost, op: OpOf<'zpop'>): KvResult {
  if (op.count !== undefined && op.count < 0) return error(SET_ERR.notPositive);
  const key = toBinary(op.key);
  const item = host.find(key);
  if (item === undefined) return EMPTY;
  if (!(item.value instanceof SortedSet)) return WRONGTYPE;
  if (op.count === 0) return EMPTY;
  return entriesResult(popFrom(ctx, host, key, op.count ?? 1, op.max === true));
}

/**
 * ZMPOP: the first key that exists is the one popped (a key of another kind there is
 * WRONGTYPE; keys after it are not looked at). None: nil, which the front end sends as a null
 * array. Else [key, [member, score, ...]].
 */
function zmpop(ctx: ApplyContext, host: ReadHost, op: OpOf<'zmpop'>): KvResult {
  if (op.keys.length === 0) return error(ERR.syntax);
  if (op.count < 1) return error('ERR count should be greater than 0');
  for (const k of op.keys) {
    const key = toBinary(k);
    const item = host.find(key);
    if (item === undefined) continue;
    if (!(item.value instanceof SortedSet)) return WRONGTYPE;
    const popped = popFrom(ctx, host, key, op.count, op.max === true);
    return { type: 'array', value: [bulk(fromBinary(key)), entriesResult(popped)] };
  }
  return NIL;
}

/** A sorted-set write op; undefined for any other op. */
export function writeZset(ctx: ApplyContext, host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'zadd':
      return zadd(ctx, host, op);
    case 'zrem':
      return zrem(ctx, host, op);
    case 'zpop':
      return zpop(ctx, host, op);
    case 'zmpop':
      return zmpop(ctx, host, op);
    default:
      return zsetRangeOp(ctx, host, op);
  }
}
