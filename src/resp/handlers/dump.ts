/**
 * DUMP and RESTORE (issue 14), in RaftKV's own payload format (src/kv/dump.ts; docs/commands.md).
 * RESTORE is checked here as restoreCommand checks it, in its order: the options, then (once
 * the key is known to be free, or REPLACE given) the TTL and the payload, which is decoded in
 * full, so a hostile payload is answered here and never reaches the log. Apply decodes it again
 * to build the value, and answers an error rather than throw should the log ever hold a bad one.
 * A relative TTL becomes absolute against the leader's clock, as EXPIRE's does.
 */
import { DUMP_ERR, decodePayload, isRefused, MAX_TIME_MS, type OpOf } from '../../kv/index.ts';
import { R, type Reply } from '../reply.ts';
import { INT64_MAX, int64, int64OrReply, invalidExpire, isReply, NOT_INTEGER, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type KvCompiler, kv } from './context.ts';
import { type KvPlan, single } from './plan.ts';

const BUSYKEY = R.error(DUMP_ERR.busyKey);
const INVALID_TTL = R.error(DUMP_ERR.invalidTtl);
const INVALID_IDLE = R.error(DUMP_ERR.invalidIdle);
const INVALID_FREQ = R.error(DUMP_ERR.invalidFreq);

/**
 * An error Redis gives only once the key is known to be free: without REPLACE, a read of the
 * key first (linearizable, as any read), BUSYKEY if it exists. Nothing is proposed either way.
 */
function afterBusyCheck(key: Buffer, replace: boolean, reply: Reply): KvPlan | Reply {
  if (replace) return reply;
  return single({ type: 'exists', keys: [key] }, (r) => (r.type === 'int' && r.value > 0 ? BUSYKEY : reply));
}

/** RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]. */
const restore: KvCompiler = (ctx, argv) => {
  let replace = false;
  let absttl = false;
  let idle = -1n;
  let freq = -1n;
  for (let j = 4; j < argv.length; j++) {
    const opt = option(argv[j]);
    const more = argv.length - j - 1;
    if (opt === 'replace') replace = true;
    else if (opt === 'absttl') absttl = true;
    else if (opt === 'idletime' && more >= 1 && freq === -1n) {
      const v = int64OrReply(argv[++j]);
      if (isReply(v)) return v;
      if (v < 0n) return INVALID_IDLE;
      idle = v;
    } else if (opt === 'freq' && more >= 1 && idle === -1n) {
      const v = int64OrReply(argv[++j]);
      if (isReply(v)) return v;
      if (v < 0n || v > 255n) return INVALID_FREQ;
      // No LFU policy here (maxmemory-policy has none), so FREQ is checked and has no effect,
      // as Redis ignores it under an LRU policy.
      freq = v;
    } else return SYNTAX_ERROR;
  }
  const ttl = int64(argv[2]);
  if (ttl === null) return afterBusyCheck(argv[1], replace, NOT_INTEGER);
  if (ttl < 0n) return afterBusyCheck(argv[1], replace, INVALID_TTL);
  const value = decodePayload(argv[3]);
  if (isRefused(value)) return afterBusyCheck(argv[1], replace, R.error(value.refused));
  let at = 0;
  if (ttl > 0n) {
    const when = absttl ? ttl : ttl + BigInt(ctx.node.now());
    // Redis's sum wraps negative past int64: a time already past, so OK and no key. Within
    // int64 but past what a log entry carries (MAX_TIME_MS), RaftKV refuses it, as EXPIRE.
    if (when > INT64_MAX) at = 1;
    else if (when > BigInt(MAX_TIME_MS)) return afterBusyCheck(argv[1], replace, invalidExpire('restore'));
    else at = Number(when);
  }
  const op: OpOf<'restore'> = { type: 'restore', key: argv[1], payload: argv[3], at };
  if (replace) op.replace = true;
  if (idle > 0n) op.cold = true;
  return single(op);
};

export const DUMP_COMMANDS = {
  dump: kv((_ctx, argv) => single({ type: 'dump', key: argv[1] })),
  restore: kv(restore),
} as const satisfies Record<string, CommandImpl>;
