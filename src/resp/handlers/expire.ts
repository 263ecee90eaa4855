/**
 * Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX|XX|GT|LT), TTL, PTTL,
 * EXPIRETIME, PEXPIRETIME and PERSIST. Relative times become absolute here, against the
 * leader's clock, so every replica expires the key at the same instant; a time already past
 * deletes the key when the entry is applied.
 */
import { ERR, type OpOf, type TimeUnit } from '../../kv/index.ts';
import { R } from '../reply.ts';
import { cstr, expireAt, isReply, option } from './args.ts';
import { type CommandImpl, type KvCompiler, kv } from './context.ts';
import { single } from './plan.ts';

/** expireGenericCommand: options first, then the time, then the overflow checks. */
function expire(name: string, seconds: boolean, relative: boolean): KvCompiler {
  return (ctx, argv) => {
    const op: OpOf<'pexpireat'> = { type: 'pexpireat', key: argv[1], at: 0 };
    for (let j = 3; j < argv.length; j++) {
      const opt = option(argv[j]);
      if (opt === 'nx') op.nx = true;
      else if (opt === 'xx') op.xx = true;
      else if (opt === 'gt') op.gt = true;
      else if (opt === 'lt') op.lt = true;
      else return R.error(`ERR Unsupported option ${cstr(argv[j])}`);
    }
    if (op.nx && (op.xx || op.gt || op.lt)) return R.error(ERR.nxAndOthers);
    if (op.gt && op.lt) return R.error(ERR.gtAndLt);
    const at = expireAt(argv[2], seconds, relative ? ctx.node.now() : 0, name);
    if (isReply(at)) return at;
    op.at = at;
    return single(op);
  };
}

const ttl =
  (unit: TimeUnit): KvCompiler =>
  (_ctx, argv) =>
    single({ type: 'ttl', key: argv[1], unit });
const expireTime =
  (unit: TimeUnit): KvCompiler =>
  (_ctx, argv) =>
    single({ type: 'expiretime', key: argv[1], unit });

export const EXPIRE_COMMANDS = {
  expire: kv(expire('expire', true, true)),
  pexpire: kv(expire('pexpire', false, true)),
  expireat: kv(expire('expireat', true, false)),
  pexpireat: kv(expire('pexpireat', false, false)),
  ttl: kv(ttl('s')),
  pttl: kv(ttl('ms')),
  expiretime: kv(expireTime('s')),
  pexpiretime: kv(expireTime('ms')),
  persist: kv((_ctx, argv) => single({ type: 'persist', key: argv[1] })),
} as const satisfies Record<string, CommandImpl>;
