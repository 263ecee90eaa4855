/**
 * ZUNION, ZINTER, ZDIFF and their stores (issue 14), as t_zset.c's
 * zunionInterDiffGenericCommand: every key looked up first (a set counts, each member scoring
 * 1; any other kind is WRONGTYPE), then WEIGHTS (string2d: "ERR weight value is not a float")
 * and AGGREGATE. A union or intersection walks the inputs smallest first (a stable sort by
 * size, as glibc's qsort is for these), so a SUM adds in Redis's order and prints the same
 * digits; weight x score that is NaN (0 x inf) counts as 0, and a SUM that is NaN (inf - inf)
 * is 0. Also ZRANDMEMBER and ZSCAN, the reads that walk positions.
 */
import type { ApplyContext } from './apply.ts';
import { fromBinary, toBinary } from './bytes.ts';
import { globMatch } from './glob.ts';
import { type KvOp, type OpOf, type Rng, SET_MODE, ZAGGREGATE } from './ops.ts';
import { bulk, error, type KvResult, NIL, WRONGTYPE } from './results.ts';
import { parseScore } from './scores.ts';
import { formatScore } from './structs/float.ts';
import { ERR_RANDOM_COUNT, MAX_RANDOM_COUNT } from './structs/random.ts';
import { pairLess } from './structs/score-tree.ts';
import { MemberSet } from './structs/set.ts';
import { SortedSet, type ZEntry } from './structs/zset.ts';
import type { ReadHost } from './type-reads.ts';
import { storeZset, zsetFor } from './zset-ranges.ts';
import { findZset } from './zset-reads.ts';

const EMPTY: KvResult = Object.freeze({ type: 'array', value: [] });
export const WEIGHT_NOT_FLOAT = 'ERR weight value is not a float';

type Input = SortedSet | MemberSet | undefined;

function inputSize(s: Input): number {
  return s?.size ?? 0;
}

function* inputEntries(s: Input): IterableIterator<ZEntry> {
  if (s instanceof SortedSet) yield* s.entries();
  else if (s instanceof MemberSet) for (const m of s) yield [m, 1];
}

function inputScore(s: Input, member: string): number | undefined {
  if (s instanceof SortedSet) return s.score(member);
  return s?.has(member) ? 1 : undefined;
}

function aggregate(target: number, value: number, how: number): number {
  // C's ternaries, not Math.min/max: on a tie (0 and -0) and against NaN the target stays.
  // biome-ignore lint/complexity/useMathMinMax: Math.min(0, -0) is -0, and NaN wins
  if (how === ZAGGREGATE.min) return value < target ? value : target;
  // biome-ignore lint/complexity/useMathMinMax: as above
  if (how === ZAGGREGATE.max) return value > target ? value : target;
  const sum = target + value;
  return Number.isNaN(sum) ? 0 : sum;
}

/** The combined entries sorted, and the longest member; or the error reply. */
function combine(host: ReadHost, op: OpOf<'zstore' | 'zcombine'>): { entries: ZEntry[]; maxLen: number } | KvResult {
  if (op.keys.length === 0 || op.mode > SET_MODE.diff || op.aggregate > ZAGGREGATE.max) return error('ERR syntax error');
  if (op.weights.length > 0 && (op.weights.length !== op.keys.length || op.mode === SET_MODE.diff)) return error('ERR syntax error');
  const inputs: Input[] = [];
  for (const k of op.keys) {
    const item = host.find(toBinary(k));
    if (item === undefined) inputs.push(undefined);
    else if (item.value instanceof SortedSet || item.value instanceof MemberSet) inputs.push(item.value);
    else return WRONGTYPE;
  }
  const weights: number[] = [];
  for (const w of op.weights) {
    const v = parseScore(toBinary(w));
    if (v === null) return error(WEIGHT_NOT_FLOAT);
    weights.push(v);
  }
  const srcs = inputs.map((s, i) => ({ s, w: weights.length > 0 ? weights[i] : 1 }));
  const out = new Map<string, number>();
  if (op.mode === SET_MODE.diff) {
    const [first, ...rest] = inputs;
    for (const [m, s] of inputEntries(first)) if (!rest.some((r) => inputScore(r, m) !== undefined)) out.set(m, s);
  } else {
    srcs.sort((a, b) => inputSize(a.s) - inputSize(b.s));
    if (op.mode === SET_MODE.union) {
      for (const { s, w } of srcs) {
        for (const [m, score] of inputEntries(s)) {
          let v = w * score;
          if (Number.isNaN(v)) v = 0;
          const cur = out.get(m);
          out.set(m, cur === undefined ? v : aggregate(cur, v, op.aggregate));
        }
      }
    } else if (inputSize(srcs[0].s) > 0) {
      for (const [m, score] of inputEntries(srcs[0].s)) {
        let acc = srcs[0].w * score;
        if (Number.isNaN(acc)) acc = 0;
        let j = 1;
        for (; j < srcs.length; j++) {
          const v = srcs[j].s === srcs[0].s ? score : inputScore(srcs[j].s, m);
          if (v === undefined) break;
          acc = aggregate(acc, v * srcs[j].w, op.aggregate);
        }
        if (j === srcs.length) out.set(m, acc);
      }
    }
  }
  const entries: ZEntry[] = [...out];
  entries.sort((a, b) => (pairLess(a[1], a[0], b[1], b[0]) ? -1 : pairLess(b[1], b[0], a[1], a[0]) ? 1 : 0));
  let maxLen = 0;
  for (const [m] of entries) if (m.length > maxLen) maxLen = m.length;
  return { entries, maxLen };
}

function zstore(ctx: ApplyContext, host: ReadHost, op: OpOf<'zstore'>): KvResult {
  const r = combine(host, op);
  if (!('entries' in r)) return r;
  // Built as a skiplist and turned into a listpack when it fits (zsetConvertToListpackIfNeeded).
  const z = zsetFor(r.entries.length, r.maxLen);
  for (const [m, s] of r.entries) z.set(m, s);
  return storeZset(ctx, host, toBinary(op.key), z);
}

function scored(entries: readonly ZEntry[], withScores: boolean): KvResult {
  const out: KvResult[] = [];
  for (const [m, s] of entries) {
    out.push(bulk(fromBinary(m)));
    if (withScores) out.push(bulk(fromBinary(formatScore(s))));
  }
  return { type: 'array', value: out };
}

/** ZRANDMEMBER: a count >= the size is the whole set from the highest (Redis 7.0's case 1), else picks. */
function zrandmember(host: ReadHost, op: OpOf<'zrandmember'>, rng: Rng): KvResult {
  if (op.count !== undefined && op.count < -MAX_RANDOM_COUNT) return error(ERR_RANDOM_COUNT);
  const z = findZset(host, op.key);
  if (z !== undefined && !(z instanceof SortedSet)) return z;
  if (op.count === undefined) return z === undefined ? NIL : bulk(fromBinary(z.random(rng, -1)[0][0]));
  if (z === undefined || op.count === 0) return EMPTY;
  const entries = op.count >= z.size ? z.rangeByRank(0, z.size - 1, true) : z.random(rng, op.count);
  return scored(entries, op.withScores === true);
}

function zscan(host: ReadHost, op: OpOf<'zscan'>): KvResult {
  const z = findZset(host, op.key);
  if (z !== undefined && !(z instanceof SortedSet)) return z;
  if (z === undefined) return { type: 'array', value: [bulk(fromBinary('0')), EMPTY] };
  const page = z.scan(op.cursor, op.count);
  const match = op.match === undefined ? undefined : toBinary(op.match);
  const entries = match === undefined || match === '*' ? page.entries : page.entries.filter(([m]) => globMatch(match, m));
  return { type: 'array', value: [bulk(fromBinary(String(page.cursor))), scored(entries, true)] };
}

/** The combining ops and the position reads; undefined for any other op. */
export function zsetCombineOp(ctx: ApplyContext | null, host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'zstore':
      return ctx === null ? undefined : zstore(ctx, host, op);
    case 'zcombine': {
      const r = combine(host, op);
      return 'entries' in r ? scored(r.entries, op.withScores === true) : r;
    }
    case 'zrandmember':
      return zrandmember(host, op, host.rng);
    case 'zscan':
      return zscan(host, op);
    default:
      return undefined;
  }
}
