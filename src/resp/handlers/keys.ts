/**
 * Keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHALL and
 * FLUSHDB. There is one database and only strings, so TYPE says "string" or "none" and SCAN's
 * TYPE filter keeps either every key or none.
 */
import type { KvResult, OpOf } from '../../kv/index.ts';
import { R, type Reply } from '../reply.ts';
import { cstr, intInRange, isReply, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type KvCompiler, kv, type NodeContext } from './context.ts';
import { evalPlan, type KvPlan, resultReply, single } from './plan.ts';

const INVALID_CURSOR = R.error('ERR invalid cursor');
const ULONG_MAX = 2n ** 64n - 1n;

/**
 * parseScanCursorOrReply: strtoul in base 10 over the C string, so a sign is allowed ("-1"
 * wraps), an empty string is 0, and leading spaces, trailing junk or overflow are invalid.
 * RaftKV's cursors are key sequence numbers; anything past the last one ends the scan.
 */
function scanCursor(arg: Buffer): number | null {
  const s = cstr(arg);
  if (s === '') return 0;
  const m = /^([+-]?)(\d+)$/.exec(s);
  if (!m) return null;
  const v = BigInt(m[2]);
  if (v > ULONG_MAX) return null;
  const wrapped = m[1] === '-' && v !== 0n ? ULONG_MAX + 1n - v : v;
  return wrapped > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(wrapped);
}

/** Redis's COUNT bound is a long; a page never needs more than this. */
const MAX_SCAN_COUNT = 2 ** 31 - 1;

/** SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] (scanGenericCommand). */
const scan: KvCompiler = (_ctx, argv) => {
  const cursor = scanCursor(argv[1]);
  if (cursor === null) return INVALID_CURSOR;
  let count = 10;
  let match: Buffer | undefined;
  let typeName: string | undefined;
  for (let i = 2; i < argv.length; ) {
    const opt = option(argv[i]);
    const hasValue = argv.length - i >= 2;
    if (opt === 'count' && hasValue) {
      const n = intInRange(argv[i + 1], -(2n ** 63n), 2n ** 63n - 1n);
      if (isReply(n)) return n;
      if (n < 1) return SYNTAX_ERROR;
      count = Math.min(n, MAX_SCAN_COUNT);
    } else if (opt === 'match' && hasValue) {
      match = argv[i + 1];
    } else if (opt === 'type' && hasValue) {
      typeName = option(argv[i + 1]);
    } else return SYNTAX_ERROR;
    i += 2;
  }
  const op: OpOf<'scan'> = { type: 'scan', cursor, count };
  if (match !== undefined) op.match = match;
  const onlyStrings = typeName === undefined || typeName === 'string';
  return single(op, (r: KvResult) => {
    if (onlyStrings || r.type !== 'array') return resultReply(r);
    return R.array([resultReply(r.value[0]), R.EMPTY_ARRAY]);
  });
};

/** FLUSHALL / FLUSHDB [ASYNC|SYNC] (getFlushCommandFlags); both empty the one database. */
const flush: KvCompiler = (_ctx, argv) => {
  if (argv.length > 2) return SYNTAX_ERROR;
  if (argv.length === 2) {
    const mode = option(argv[1]);
    if (mode !== 'sync' && mode !== 'async') return SYNTAX_ERROR;
  }
  return single({ type: 'flushall' });
};

/**
 * A node-wide read (DBSIZE, KEYS): on a multi-group node, over every group the node leads, the
 * replies joined by `join`; else the plan on this group, as any read.
 */
function nodeWide(ctx: NodeContext, plan: KvPlan, now: number, join: (replies: Reply[]) => Reply): Reply {
  const groups = ctx.nodeWide?.();
  if (groups === undefined || groups.length <= 1) return evalPlan(ctx.node.kv, plan, now);
  const replies = groups.map((n) => evalPlan(n.kv, plan, n.now()));
  const failed = replies.find((r) => r.t === 'error');
  return failed ?? join(replies);
}

export const KEY_COMMANDS = {
  del: kv((_ctx, argv) => single({ type: 'del', keys: argv.slice(1) })),
  unlink: kv((_ctx, argv) => single({ type: 'del', keys: argv.slice(1) })),
  exists: kv((_ctx, argv) => single({ type: 'exists', keys: argv.slice(1) })),
  type: kv((_ctx, argv) => single({ type: 'type', key: argv[1] })),
  keys: kv(
    (_ctx, argv) => single({ type: 'keys', pattern: argv[1] }),
    (ctx, argv, now) => nodeWide(ctx, single({ type: 'keys', pattern: argv[1] }), now, (rs) => R.array(rs.flatMap((r) => (r.t === 'array' ? r.v : [])))),
  ),
  scan: kv(scan),
  randomkey: kv(() => single({ type: 'randomkey' })),
  dbsize: kv(
    () => single({ type: 'dbsize' }),
    (ctx, _argv, now) => nodeWide(ctx, single({ type: 'dbsize' }), now, (rs) => R.int(rs.reduce((n, r) => n + (r.t === 'int' ? Number(r.v) : 0), 0))),
  ),
  flushall: kv(flush),
  flushdb: kv(flush),
} as const satisfies Record<string, CommandImpl>;
