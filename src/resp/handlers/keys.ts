/**
 * Keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHALL,
 * FLUSHDB, RENAME, RENAMENX, COPY and OBJECT ENCODING. There is one database; a key holds a string, a hash or a set
 * (issue 14), which TYPE names and SCAN's TYPE filter selects.
 */
import type { OpOf } from '../../kv/index.ts';
import { R, type Reply } from '../reply.ts';
import { cstr, INT32_MAX, INT32_MIN, intInRange, isReply, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type KvCompiler, kv, type NodeContext } from './context.ts';
import { evalPlan, type KvPlan, single } from './plan.ts';

const INVALID_CURSOR = R.error('ERR invalid cursor');
const DB_OUT_OF_RANGE = R.error('ERR DB index is out of range');
const ULONG_MAX = 2n ** 64n - 1n;

/**
 * parseScanCursorOrReply: strtoul in base 10 over the C string, so a sign is allowed ("-1"
 * wraps), an empty string is 0, and leading spaces, trailing junk or overflow are invalid.
 * RaftKV's cursors are key sequence numbers; anything past the last one ends the scan.
 */
export function scanCursor(arg: Buffer): number | null {
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

export interface ScanOptions {
  count: number;
  match?: Buffer;
  /** SCAN's TYPE, lower-cased. */
  kind?: string;
}

/**
 * The options of SCAN (with TYPE) and HSCAN/SSCAN (without) from argv[start], as
 * scanGenericCommand parses them: COUNT an integer >= 1, a repeated option the last one.
 */
export function scanOptions(argv: Buffer[], start: number, withType: boolean): ScanOptions | Reply {
  const opts: ScanOptions = { count: 10 };
  for (let i = start; i < argv.length; ) {
    const opt = option(argv[i]);
    const hasValue = argv.length - i >= 2;
    if (opt === 'count' && hasValue) {
      const n = intInRange(argv[i + 1], -(2n ** 63n), 2n ** 63n - 1n);
      if (isReply(n)) return n;
      if (n < 1) return SYNTAX_ERROR;
      opts.count = Math.min(n, MAX_SCAN_COUNT);
    } else if (opt === 'match' && hasValue) {
      opts.match = argv[i + 1];
    } else if (opt === 'type' && hasValue && withType) {
      opts.kind = option(argv[i + 1]);
    } else return SYNTAX_ERROR;
    i += 2;
  }
  return opts;
}

/** SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] (scanGenericCommand). */
const scan: KvCompiler = (_ctx, argv) => {
  const cursor = scanCursor(argv[1]);
  if (cursor === null) return INVALID_CURSOR;
  const opts = scanOptions(argv, 2, true);
  if (isReply(opts)) return opts;
  if (opts.kind !== undefined) {
    const op: OpOf<'scanType'> = { type: 'scanType', cursor, count: opts.count, kind: Buffer.from(opts.kind, 'latin1') };
    if (opts.match !== undefined) op.match = opts.match;
    return single(op);
  }
  const op: OpOf<'scan'> = { type: 'scan', cursor, count: opts.count };
  if (opts.match !== undefined) op.match = opts.match;
  return single(op);
};

/** COPY source destination [DB db] [REPLACE] (copyCommand); one database, so DB must be 0. */
const copy: KvCompiler = (_ctx, argv) => {
  let replace = false;
  for (let j = 3; j < argv.length; j++) {
    const opt = option(argv[j]);
    if (opt === 'replace') replace = true;
    else if (opt === 'db' && j < argv.length - 1) {
      const db = intInRange(argv[++j], INT32_MIN, INT32_MAX);
      if (isReply(db)) return db;
      if (db !== 0) return DB_OUT_OF_RANGE;
    } else return SYNTAX_ERROR;
  }
  const op: OpOf<'copy'> = { type: 'copy', key: argv[1], dest: argv[2] };
  if (replace) op.replace = true;
  return single(op);
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
  const replies = groups.map(({ node }) => evalPlan(node.kv, plan, node.now()));
  const failed = replies.find((r) => r.t === 'error');
  return failed ?? join(replies);
}

/**
 * SCAN's cursor on a multi-group node: the group in the bits above CURSOR_GROUP_SHIFT, the
 * group's own cursor below (2^40 creation seqs of one group before it would overflow).
 */
const CURSOR_GROUP_SHIFT = 2 ** 40;

/**
 * SCAN over every group this node leads (Redis Cluster scans all of a node's slots): the groups
 * in id order, each scanned to its end before the next; a page holds one group's keys. A
 * single group scans as any read.
 */
function scanNodeWide(ctx: NodeContext, argv: Buffer[], now: number): Reply {
  const plan = scan(ctx, argv);
  if (isReply(plan)) return plan;
  const groups = ctx.nodeWide?.();
  if (groups === undefined || groups.length <= 1) return evalPlan(ctx.node.kv, plan, now);
  const op = plan.ops[0] as OpOf<'scan'> | OpOf<'scanType'>;
  const from = Math.floor(op.cursor / CURSOR_GROUP_SHIFT);
  const i = groups.findIndex((g) => g.group >= from);
  if (i < 0) return R.array([R.bulk('0'), R.EMPTY_ARRAY]);
  const { group, node } = groups[i];
  const inner = group === from ? op.cursor % CURSOR_GROUP_SHIFT : 0;
  const page = evalPlan(node.kv, single({ ...op, cursor: inner }), node.now());
  if (page.t !== 'array' || page.v.length !== 2) return page;
  const cursorReply = page.v[0];
  const next = cursorReply.t === 'bulk' || cursorReply.t === 'binary' ? Number(cursorReply.v.toString()) : 0;
  const out = next !== 0 ? group * CURSOR_GROUP_SHIFT + next : i + 1 < groups.length ? groups[i + 1].group * CURSOR_GROUP_SHIFT : 0;
  return R.array([R.bulk(String(out)), page.v[1]]);
}

/**
 * RANDOMKEY over every group this node leads: a group picked with odds by its key count, then a
 * key of it (Redis Cluster answers a random key of the node). A single group reads as any read.
 */
function randomKeyNodeWide(ctx: NodeContext, _argv: Buffer[], now: number): Reply {
  const plan = single({ type: 'randomkey' });
  const groups = ctx.nodeWide?.();
  if (groups === undefined || groups.length <= 1) return evalPlan(ctx.node.kv, plan, now);
  const sizes = groups.map(({ node }) => node.kv.dbsize(node.now()));
  let pick = Math.random() * sizes.reduce((a, b) => a + b, 0);
  let i = 0;
  while (i < sizes.length - 1 && pick >= sizes[i]) pick -= sizes[i++];
  const { node } = groups[i];
  return evalPlan(node.kv, plan, node.now());
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
  scan: kv(scan, scanNodeWide),
  randomkey: kv(() => single({ type: 'randomkey' }), randomKeyNodeWide),
  dbsize: kv(
    () => single({ type: 'dbsize' }),
    (ctx, _argv, now) => nodeWide(ctx, single({ type: 'dbsize' }), now, (rs) => R.int(rs.reduce((n, r) => n + (r.t === 'int' ? Number(r.v) : 0), 0))),
  ),
  flushall: kv(flush),
  flushdb: kv(flush),
  rename: kv((_ctx, argv) => single({ type: 'rename', key: argv[1], dest: argv[2] })),
  renamenx: kv((_ctx, argv) => single({ type: 'rename', key: argv[1], dest: argv[2], nx: true })),
  copy: kv(copy),
  /** OBJECT ENCODING key: Redis 7.0's encoding names (src/kv/types.ts); nil for a missing key. */
  'object|encoding': kv((_ctx, argv) => single({ type: 'encoding', key: argv[2] })),
} as const satisfies Record<string, CommandImpl>;
