/**
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH. The router queues commands after MULTI; EXEC compiles the
 * queued keyspace commands into one list of ops and proposes them as ONE log entry, so they
 * apply atomically at one index on every replica, and hands each command its slice of the
 * results. A transaction without writes is served as one read instead (it is atomic too: the
 * whole evaluation runs in one synchronous step after the barrier).
 *
 * WATCH reads each key's version (KvStore.version) on the leader after a linearizable barrier;
 * EXEC sends them in the entry's `watch` list and apply aborts the entry if any changed, so
 * the check happens at the same point in the log on every replica. A WATCH that could not be
 * confirmed (timeout, no quorum) answers its error and dooms the next EXEC, which then answers
 * a null array: nothing unverified ever commits.
 */
import type { KvOp, KvResult, WatchedKey } from '../../kv/index.ts';
import { KEYLESS, transactionSlot } from '../cluster/routing.ts';
import { commandSlot } from '../commands/keys.ts';
import { discardTransaction } from '../commands/router.ts';
import type { ClientConn, QueuedCommand } from '../conn.ts';
import { ROUTING_ERRORS } from '../errors.ts';
import { R, type Reply } from '../reply.ts';
import { isReply } from './args.ts';
import { type CommandImpl, entryBytes, type LocalHandler, local, type NodeContext } from './context.ts';
import { evalRead, type KvPlan, readOnly } from './plan.ts';
import { runtimeErrorReply } from './runtime-errors.ts';

const EXECABORT = R.error('EXECABORT Transaction discarded because of previous errors.');

/** One queued command, compiled. */
type Part = { plan: KvPlan; offset: number } | { local: QueuedCommand; run: LocalHandler } | { reply: Reply };

/**
 * The slot a failed EXEC redirects by: the first key of the queued commands, else of the WATCHed
 * keys, else 0 (the guard has already refused a transaction spanning groups).
 */
function execSlot(ctx: NodeContext, conn: ClientConn, queued: readonly QueuedCommand[]): number {
  const slot = transactionSlot(ctx.view, queued, conn.watched.keys());
  return typeof slot === 'number' && slot !== KEYLESS ? slot : 0;
}

/** The WATCHed versions to check, taken (and the watches dropped) as EXEC runs; null if doomed. */
function takeWatches(conn: ClientConn): WatchedKey[] | null {
  const doomed = conn.watchDirty;
  const list = [...conn.watched].map(([k, version]) => ({ key: Buffer.from(k, 'latin1'), version }));
  conn.watched.clear();
  conn.watchDirty = false;
  return doomed ? null : list;
}

function compile(ctx: NodeContext, queued: readonly QueuedCommand[]): { parts: Part[]; ops: KvOp[] } {
  const parts: Part[] = [];
  const ops: KvOp[] = [];
  for (const q of queued) {
    const impl = ctx.impls[q.cmd.name as keyof typeof ctx.impls];
    if ('local' in impl) {
      parts.push({ local: q, run: impl.local });
      continue;
    }
    const plan = impl.kv(ctx, q.argv);
    if (isReply(plan)) {
      parts.push({ reply: plan });
      continue;
    }
    parts.push({ plan, offset: ops.length });
    for (const op of plan.ops) ops.push(op);
  }
  return { parts, ops };
}

/** The EXEC array: each command's reply in order; local commands run now, after the entry. */
async function assemble(ctx: NodeContext, conn: ClientConn, parts: Part[], results: readonly KvResult[]): Promise<Reply> {
  const out: Reply[] = [];
  for (const p of parts) {
    let r: Reply;
    if ('plan' in p) r = p.plan.reply(results.slice(p.offset, p.offset + p.plan.ops.length));
    else if ('reply' in p) r = p.reply;
    else if (p.local.cmd.name === 'ssubscribe') {
      // Redis 7.0 runs EXEC's commands as a client that may not block, and SSUBSCRIBE refuses one.
      r = ROUTING_ERRORS.ssubscribeInExec;
    } else {
      ctx.node.metrics.command(p.local.cmd.name).inc();
      r = await p.run(ctx, conn, p.local.argv, p.local.cmd);
    }
    // SUBSCRIBE a b answers twice; inside EXEC its answers join the array.
    if (r.t === 'many') out.push(...r.v);
    else out.push(r);
  }
  return R.array(out);
}

const exec: LocalHandler = (ctx, conn) => {
  if (conn.multi === null) return R.error('ERR EXEC without MULTI');
  if (conn.multiDirty) {
    discardTransaction(conn);
    return EXECABORT;
  }
  const queued = conn.multi;
  conn.clearMulti();
  const slot = execSlot(ctx, conn, queued);
  const { parts, ops } = compile(ctx, queued);
  const node = ctx.node;
  if (readOnly(ops)) {
    const results = ctx.read(conn, slot, (now): KvResult[] | null => {
      const watched = takeWatches(conn);
      if (watched === null || watched.some((w) => node.kv.version(w.key, now) !== w.version)) return null;
      return ops.map((op) => evalRead(node.kv, op, now, Math.random));
    });
    const finish = (r: KvResult[] | null | Reply): Reply | Promise<Reply> => (r === null ? R.NULL_ARRAY : Array.isArray(r) ? assemble(ctx, conn, parts, r) : r);
    return results instanceof Promise ? results.then(finish) : finish(results);
  }
  const bytes = queued.reduce((n, q) => n + entryBytes(q.argv), 0);
  if (bytes > ctx.maxEntryBytes) {
    takeWatches(conn);
    return ctx.entryTooBig(bytes);
  }
  return ctx
    .write(conn, ops, () => takeWatches(conn))
    .then(
      (results) => (results[0]?.type === 'aborted' ? R.NULL_ARRAY : assemble(ctx, conn, parts, results)),
      (err: unknown) => runtimeErrorReply(node, err, slot, conn.tls),
    );
};

const watch: LocalHandler = (ctx, conn, argv, cmd) => {
  if (conn.multi !== null) return R.error('ERR WATCH inside MULTI is not allowed');
  // Redis: no point in watching once a watched key has changed.
  if (conn.watchDirty) return R.OK;
  const keys = argv.slice(1);
  const reply = ctx.read(conn, commandSlot(cmd, argv), (now) => {
    for (const key of keys) {
      const name = key.toString('latin1');
      if (!conn.watched.has(name)) conn.watched.set(name, ctx.node.kv.version(key, now));
    }
    return R.OK;
  });
  const check = (r: Reply): Reply => {
    if (r.t === 'error') conn.watchDirty = true;
    return r;
  };
  return reply instanceof Promise ? reply.then(check) : check(reply);
};

const unwatch = (conn: ClientConn): Reply => {
  conn.watched.clear();
  conn.watchDirty = false;
  return R.OK;
};

export const TRANSACTION_COMMANDS = {
  multi: local((_ctx, conn) => {
    if (conn.multi !== null) return R.error('ERR MULTI calls can not be nested');
    conn.multi = [];
    return R.OK;
  }),
  exec: local(exec),
  discard: local((ctx, conn) => {
    if (conn.multi === null) return R.error('ERR DISCARD without MULTI');
    conn.clearMulti();
    return ctx.afterReads(conn, () => unwatch(conn));
  }),
  watch: local(watch),
  unwatch: local((ctx, conn) => ctx.afterReads(conn, () => unwatch(conn))),
} as const satisfies Record<string, CommandImpl>;
