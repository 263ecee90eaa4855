/**
 * The write ops of the list commands (issue 14): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LMOVE
 * RPOPLPUSH LMPOP LSET LREM LTRIM LINSERT, in the order of Redis 7.0's t_list.c (which key is
 * looked up and type-checked first decides which error a client sees). A list is a Deque
 * (structs/deque.ts: O(1) at both ends), changed in place inside Keyspace.beginEdit/endEdit
 * through type-writes.ts's `edit`, and deleted when it empties, as Redis deletes it.
 * Like every op these are total: a decoded entry is not trusted (a negative count, an index of
 * any size, no elements), and whatever it holds the answer is a value or Redis's error text.
 */
import type { ApplyContext } from './apply.ts';
import { fromBinary, toBinary } from './bytes.ts';
import type { Item } from './item.ts';
import type { KvOp, OpOf } from './ops.ts';
import { bulk, ERR, error, int, type KvResult, NIL, OK, WRONGTYPE } from './results.ts';
import { Deque } from './structs/deque.ts';
import type { ReadHost } from './type-reads.ts';
import { edit, MAX_ELEMENT_BYTES } from './type-writes.ts';

/** Redis's texts for the list commands' arguments and keys. */
export const LIST_ERR = {
  notPositive: 'ERR value is out of range, must be positive',
  countNotPositive: 'ERR count should be greater than 0',
  noSuchKey: 'ERR no such key',
  indexOutOfRange: 'ERR index out of range',
} as const;

const EMPTY: KvResult = Object.freeze({ type: 'array', value: [] });

function bulks(values: readonly string[]): KvResult {
  return { type: 'array', value: values.map((v) => bulk(fromBinary(v))) };
}

/** The key's list, undefined when missing, WRONGTYPE when it holds another kind. */
function findList(host: ReadHost, key: string): { item: Item; list: Deque } | undefined | KvResult {
  const item = host.find(key);
  if (item === undefined) return undefined;
  if (!(item.value instanceof Deque)) return WRONGTYPE;
  return { item, list: item.value };
}

/** Up to `n` elements off one end (the list is changed by the caller's edit). */
function popN(list: Deque, left: boolean, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n && list.length > 0; i++) out.push((left ? list.popFront() : list.popBack()) as string);
  return out;
}

/** LPUSH / RPUSH / LPUSHX / RPUSHX: the list's new length (PUSHX on a missing key: 0). */
function push(ctx: ApplyContext, host: ReadHost, op: OpOf<'lpush'>): KvResult {
  for (const e of op.elements) if (e.length > MAX_ELEMENT_BYTES) return error(ERR.tooBig);
  if (op.elements.length === 0) return error(ERR.syntax);
  const key = toBinary(op.key);
  const found = findList(host, key);
  if (found !== undefined && !('list' in found)) return found;
  if (found === undefined && op.xx) return int(0);
  const list = found?.list ?? new Deque();
  edit(ctx, key, found?.item, list, () => {
    for (const e of op.elements) {
      if (op.left) list.pushFront(toBinary(e));
      else list.pushBack(toBinary(e));
    }
  });
  return int(list.length);
}

/**
 * LPOP / RPOP (popGenericCommand): without a count one element or nil; with one, an array
 * (count 0: empty) or, for a missing key, nil (the front end sends that as a null array).
 */
function pop(ctx: ApplyContext, host: ReadHost, op: OpOf<'lpop'>): KvResult {
  if (op.count !== undefined && op.count < 0) return error(LIST_ERR.notPositive);
  const key = toBinary(op.key);
  const found = findList(host, key);
  if (found === undefined) return NIL;
  if (!('list' in found)) return found;
  if (op.count === 0) return EMPTY;
  let popped: string[] = [];
  edit(ctx, key, found.item, found.list, () => {
    popped = popN(found.list, op.left === true, op.count ?? 1);
  });
  return op.count === undefined ? bulk(fromBinary(popped[0])) : bulks(popped);
}

/**
 * LMOVE / RPOPLPUSH (lmoveGenericCommand): a missing source is nil before the destination's
 * type is looked at; the same key rotates the list.
 */
function lmove(ctx: ApplyContext, host: ReadHost, op: OpOf<'lmove'>): KvResult {
  const srcKey = toBinary(op.key);
  const dstKey = toBinary(op.dest);
  const src = findList(host, srcKey);
  if (src === undefined) return NIL;
  if (!('list' in src)) return src;
  const dst = findList(host, dstKey);
  if (dst !== undefined && !('list' in dst)) return dst;
  const from = src.list;
  const to = dst?.list ?? new Deque();
  let v = '';
  const put = () => {
    if (op.toLeft) to.pushFront(v);
    else to.pushBack(v);
  };
  if (from === to) {
    edit(ctx, srcKey, src.item, from, () => {
      v = popN(from, op.fromLeft === true, 1)[0];
      put();
    });
    return bulk(fromBinary(v));
  }
  edit(ctx, srcKey, src.item, from, () => {
    v = popN(from, op.fromLeft === true, 1)[0];
  });
  edit(ctx, dstKey, dst?.item, to, put);
  return bulk(fromBinary(v));
}

/**
 * LMPOP (mpopGenericCommand): the first key holding a list gives up to `count` elements, as
 * [key, [elements]]; a key of another kind met before it is WRONGTYPE; none is nil.
 */
function lmpop(ctx: ApplyContext, host: ReadHost, op: OpOf<'lmpop'>): KvResult {
  if (op.count < 1) return error(LIST_ERR.countNotPositive);
  for (const k of op.keys) {
    const key = toBinary(k);
    const found = findList(host, key);
    if (found === undefined) continue;
    if (!('list' in found)) return found;
    let popped: string[] = [];
    edit(ctx, key, found.item, found.list, () => {
      popped = popN(found.list, op.left === true, op.count);
    });
    return { type: 'array', value: [bulk(fromBinary(key)), bulks(popped)] };
  }
  return NIL;
}

/** Redis's index: negative counts from the tail. */
export function resolveIndex(i: number, length: number): number {
  return i < 0 ? length + i : i;
}

/** LSET (lsetCommand): "no such key", WRONGTYPE, then the index. */
function lset(ctx: ApplyContext, host: ReadHost, op: OpOf<'lset'>): KvResult {
  if (op.element.length > MAX_ELEMENT_BYTES) return error(ERR.tooBig);
  const key = toBinary(op.key);
  const found = findList(host, key);
  if (found === undefined) return error(LIST_ERR.noSuchKey);
  if (!('list' in found)) return found;
  const { item, list } = found;
  const i = resolveIndex(op.index, list.length);
  if (i < 0 || i >= list.length) return error(LIST_ERR.indexOutOfRange);
  edit(ctx, key, item, list, () => list.set(i, toBinary(op.element)));
  return OK;
}

/** LREM: how many went; nothing removed is no change (the version stays, as Redis signals none). */
function lrem(ctx: ApplyContext, host: ReadHost, op: OpOf<'lrem'>): KvResult {
  const key = toBinary(op.key);
  const found = findList(host, key);
  if (found === undefined) return int(0);
  if (!('list' in found)) return found;
  const { item, list } = found;
  const element = toBinary(op.element);
  if (list.indexOf(element) < 0) return int(0);
  let removed = 0;
  edit(ctx, key, item, list, () => {
    removed = list.removeValue(element, op.count);
  });
  return int(removed);
}

/** LTRIM (ltrimCommand): always OK; a range that keeps nothing deletes the key. */
function ltrim(ctx: ApplyContext, host: ReadHost, op: OpOf<'ltrim'>): KvResult {
  const key = toBinary(op.key);
  const found = findList(host, key);
  if (found === undefined) return OK;
  if (!('list' in found)) return found;
  const { item, list } = found;
  const n = list.length;
  const start = Math.max(0, resolveIndex(op.start, n));
  const stop = resolveIndex(op.stop, n);
  edit(ctx, key, item, list, () => list.trim(start, stop));
  return OK;
}

/** LINSERT: the new length, -1 when the pivot is not there (no change), 0 for a missing key. */
function linsert(ctx: ApplyContext, host: ReadHost, op: OpOf<'linsert'>): KvResult {
  if (op.element.length > MAX_ELEMENT_BYTES) return error(ERR.tooBig);
  const key = toBinary(op.key);
  const found = findList(host, key);
  if (found === undefined) return int(0);
  if (!('list' in found)) return found;
  const { item, list } = found;
  const at = list.indexOf(toBinary(op.pivot));
  if (at < 0) return int(-1);
  edit(ctx, key, item, list, () => list.insert(op.before ? at : at + 1, toBinary(op.element)));
  return int(list.length);
}

/** A list write op; undefined for any other op. */
export function writeList(ctx: ApplyContext, host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'lpush':
      return push(ctx, host, op);
    case 'lpop':
      return pop(ctx, host, op);
    case 'lmove':
      return lmove(ctx, host, op);
    case 'lmpop':
      return lmpop(ctx, host, op);
    case 'lset':
      return lset(ctx, host, op);
    case 'lrem':
      return lrem(ctx, host, op);
    case 'ltrim':
      return ltrim(ctx, host, op);
    case 'linsert':
      return linsert(ctx, host, op);
    default:
      return undefined;
  }
}
