/**
 * The read ops of the list commands (issue 14): LLEN LRANGE LINDEX LPOS, evaluated by apply and
 * by a read served alone through type-reads.ts's ReadHost, like the hash and set reads. A key
 * of another kind answers WRONGTYPE; a missing one what Redis answers for it (0, an empty
 * array, nil). Indexes arrive as Redis's longs clamped to +-2^52 (ops.ts) and resolve here.
 */
import { fromBinary, toBinary } from './bytes.ts';
import type { KvOp, OpOf } from './ops.ts';
import { bulk, int, type KvResult, NIL, WRONGTYPE } from './results.ts';
import { Deque } from './structs/deque.ts';
import type { ReadHost } from './type-reads.ts';

const EMPTY: KvResult = Object.freeze({ type: 'array', value: [] });

/** LRANGE (listRangeCommand's clamping): elements start..stop inclusive. */
function lrange(list: Deque, op: OpOf<'lrange'>): KvResult {
  const n = list.length;
  let start = op.start < 0 ? n + op.start : op.start;
  let stop = op.stop < 0 ? n + op.stop : op.stop;
  if (start < 0) start = 0;
  if (start > stop || start >= n) return EMPTY;
  if (stop >= n) stop = n - 1;
  return { type: 'array', value: list.range(start, stop).map((v) => bulk(fromBinary(v))) };
}

/**
 * LPOS (lposCommand): walks from the head (rank > 0) or the tail (rank < 0), skipping the first
 * |rank| - 1 matches, looking at no more than `maxlen` elements (0 = all); with a count (0 =
 * every match) an array of positions, else one position or nil.
 */
function lpos(list: Deque | undefined, op: OpOf<'lpos'>): KvResult {
  if (list === undefined) return op.count === undefined ? NIL : EMPTY;
  const element = toBinary(op.element);
  const n = list.length;
  const fromTail = op.rank < 0;
  const rank = Math.abs(op.rank);
  const limit = op.maxlen === 0 ? n : Math.min(n, op.maxlen);
  const out: KvResult[] = [];
  let matches = 0;
  // Walked in chunks of elements (range is O(m + CHUNK)), not one lookup per position.
  const STEP = 1024;
  for (let done = 0; done < limit; done += STEP) {
    const m = Math.min(STEP, limit - done);
    const part = fromTail ? list.range(n - done - m, n - done - 1).reverse() : list.range(done, done + m - 1);
    for (let j = 0; j < part.length; j++) {
      if (part[j] !== element) continue;
      matches++;
      if (matches < rank) continue;
      const walked = done + j;
      const pos = fromTail ? n - 1 - walked : walked;
      if (op.count === undefined) return int(pos);
      out.push(int(pos));
      if (op.count > 0 && out.length >= op.count) return { type: 'array', value: out };
    }
  }
  return op.count === undefined ? NIL : { type: 'array', value: out };
}

/** A list read op; undefined for any other op. */
export function readList(host: ReadHost, op: KvOp): KvResult | undefined {
  switch (op.type) {
    case 'llen':
    case 'lrange':
    case 'lindex':
    case 'lpos':
      break;
    default:
      return undefined;
  }
  const item = host.find(toBinary(op.key));
  let list: Deque | undefined;
  if (item !== undefined) {
    if (!(item.value instanceof Deque)) return WRONGTYPE;
    host.touch(item);
    list = item.value;
  }
  switch (op.type) {
    case 'llen':
      return int(list?.length ?? 0);
    case 'lrange':
      return list === undefined ? EMPTY : lrange(list, op);
    case 'lindex': {
      if (list === undefined) return NIL;
      const v = list.get(op.index < 0 ? list.length + op.index : op.index);
      return v === undefined ? NIL : bulk(fromBinary(v));
    }
    case 'lpos':
      return lpos(list, op);
  }
}
