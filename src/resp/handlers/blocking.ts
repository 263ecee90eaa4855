/**
 * Blocking pops (issue 14): BLPOP BRPOP BLMOVE BLMPOP (lists), BZPOPMIN BZPOPMAX BZMPOP (sorted
 * sets). Arguments are parsed as Redis 7.0 does (t_list.c, t_zset.c: same checks, same order,
 * same errors, the timeout first for BLMPOP/BZMPOP and last for the others).
 *
 * Each command compiles to its non-blocking form (LMPOP, LMOVE, ZMPOP over its keys with
 * BLPOP's or BZPOPMIN's reply shape): that is what MULTI runs, as Redis turns blocking commands
 * into non-blocking ones inside a transaction, and what a blocking command tries first. When the
 * first try finds every key empty, the client blocks in its group's registry
 * (../blocked-clients.ts), which proposes the same form over the one key that became ready.
 */
import type { KvResult, OpOf } from '../../kv/index.ts';
import { parseLongDouble } from '../../kv/long-double.ts';
import { NodeClosedError } from '../../node/errors.ts';
import type { RaftNode } from '../../node/raft-node.ts';
import { BlockedClients, type BlockType } from '../blocked-clients.ts';
import type { ClientConn } from '../conn.ts';
import { INTERNAL_ERROR, ROUTING_ERRORS } from '../errors.ts';
import { R, type Reply } from '../reply.ts';
import { keyHashSlot } from '../slot.ts';
import { int64, isReply, option, SYNTAX_ERROR } from './args.ts';
import type { CommandImpl, NodeContext } from './context.ts';
import { type KvPlan, resultReply } from './plan.ts';
import { scoreReply } from './zsets.ts';
import { redirect, runtimeErrorReply } from './runtime-errors.ts';

/** A blocking command, parsed: what it waits on, for how long, and its non-blocking form. */
export interface BlockingCall {
  readonly keys: Buffer[];
  /** ms; 0 waits forever. */
  readonly timeoutMs: number;
  readonly type: BlockType;
  /** The non-blocking form over `keys` (one op): what MULTI runs, and each pop proposed. */
  plan(keys: Buffer[]): KvPlan;
  /** The reply when the timeout passes (a null array, BLMOVE's too). */
  readonly timeoutReply: Reply;
}

export type BlockingParser = (argv: Buffer[]) => BlockingCall | Reply;

const NIL: KvResult = { type: 'nil' };
const NOT_FLOAT = R.error('ERR timeout is not a float or out of range');
const NEGATIVE = R.error('ERR timeout is negative');
const LLONG_MAX = 2n ** 63n - 1n;

/**
 * getTimeoutFromObjectOrReply (Redis 7.0, seconds): string2ld, then `(long long)(t * 1000)`,
 * truncated toward zero. Out of long long's range that cast yields LLONG_MIN on x86-64, which
 * Redis then calls negative. Redis 7.0 takes any larger timeout (7.2 added "timeout is out of
 * range"); so does this, the timer re-arming as long as needed. Returns ms (0: forever).
 */
export function parseTimeout(arg: Buffer): number | Reply {
  const v = parseLongDouble(arg.toString('latin1'));
  if (v === null) return NOT_FLOAT;
  if (v.inf) return NEGATIVE;
  const scaled = v.mant * 1000n;
  const ms = v.exp >= 0 ? scaled << BigInt(v.exp) : scaled >> BigInt(-v.exp);
  if (ms > LLONG_MAX) return NEGATIVE;
  if (ms === 0n) return 0;
  if (v.neg) return NEGATIVE;
  return Number(ms);
}

/** LEFT | RIGHT (getListPositionFromObjectOrReply); true for LEFT. */
export function side(arg: Buffer): boolean | Reply {
  const o = option(arg);
  if (o === 'left') return true;
  if (o === 'right') return false;
  return SYNTAX_ERROR;
}

/** A one-op plan whose reply is `map` of its result. */
function plan1(op: OpOf<'lmpop'> | OpOf<'lmove'> | OpOf<'zmpop'>, map: (r: KvResult) => Reply): KvPlan {
  return { ops: [op], reply: (results) => map(results[0] ?? NIL) };
}

/** LMPOP's [key, [element]] as BLPOP's [key, element]; nil as a null array. */
function keyElement(r: KvResult): Reply {
  if (r.type === 'nil') return R.NULL_ARRAY;
  if (r.type !== 'array') return resultReply(r);
  const [key, elements] = r.value;
  if (elements?.type !== 'array' || elements.value.length === 0) return R.NULL_ARRAY;
  return R.array([resultReply(key), resultReply(elements.value[0])]);
}

/** LMPOP's reply: [key, [elements]], nil as a null array. */
function mpopReply(r: KvResult): Reply {
  return r.type === 'nil' ? R.NULL_ARRAY : resultReply(r);
}

/** BLPOP / BRPOP key [key ...] timeout. */
function bpop(left: boolean): BlockingParser {
  return (argv) => {
    const timeoutMs = parseTimeout(argv[argv.length - 1]);
    if (isReply(timeoutMs)) return timeoutMs;
    return {
      keys: argv.slice(1, -1),
      timeoutMs,
      type: 'list',
      plan: (keys) => plan1({ type: 'lmpop', keys, left, count: 1 }, keyElement),
      timeoutReply: R.NULL_ARRAY,
    };
  };
}

/** BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout (blmoveCommand: sides, then timeout). */
const blmove: BlockingParser = (argv) => {
  const fromLeft = side(argv[3]);
  if (isReply(fromLeft)) return fromLeft;
  const toLeft = side(argv[4]);
  if (isReply(toLeft)) return toLeft;
  const timeoutMs = parseTimeout(argv[5]);
  if (isReply(timeoutMs)) return timeoutMs;
  const dest = argv[2];
  return {
    keys: [argv[1]],
    timeoutMs,
    type: 'list',
    plan: (keys) => plan1({ type: 'lmove', key: keys[0], dest, fromLeft, toLeft }, (r) => (r.type === 'nil' ? R.NULL : resultReply(r))),
    // Redis answers a timed-out BLMOVE with a null array, like the other list pops.
    timeoutReply: R.NULL_ARRAY,
  };
};

const NUMKEYS = R.error('ERR numkeys should be greater than 0');
const COUNT = R.error('ERR count should be greater than 0');

/**
 * The arguments after the timeout of BLMPOP / BZMPOP (lmpopGenericCommand, zmpopGenericCommand):
 * numkeys key [key ...] <where> [COUNT count]. `where` maps the side word (null: syntax error).
 */
export function mpopArgs<W>(argv: Buffer[], at: number, where: (o: string) => W | null): { keys: Buffer[]; where: W; count: number } | Reply {
  const n = int64(argv[at]);
  if (n === null || n < 1n) return NUMKEYS;
  // The keys and the side word must fit in what is left.
  if (n >= BigInt(argv.length - at - 1)) return SYNTAX_ERROR;
  const numkeys = Number(n);
  const w = where(option(argv[at + 1 + numkeys]));
  if (w === null) return SYNTAX_ERROR;
  let count: number | undefined;
  for (let j = at + 2 + numkeys; j < argv.length; j++) {
    if (count === undefined && option(argv[j]) === 'count' && j < argv.length - 1) {
      const c = int64(argv[++j]);
      if (c === null || c < 1n) return COUNT;
      // A count beyond any collection's size pops the same as the size: clamp to a safe number.
      count = c > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(c);
    } else return SYNTAX_ERROR;
  }
  return { keys: argv.slice(at + 1, at + 1 + numkeys), where: w, count: count ?? 1 };
}

/** BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]. */
const blmpop: BlockingParser = (argv) => {
  const timeoutMs = parseTimeout(argv[1]);
  if (isReply(timeoutMs)) return timeoutMs;
  const a = mpopArgs(argv, 2, (o) => (o === 'left' ? true : o === 'right' ? false : null));
  if (isReply(a)) return a;
  const { where: left, count } = a;
  return { keys: a.keys, timeoutMs, type: 'list', plan: (keys) => plan1({ type: 'lmpop', keys, left, count }, mpopReply), timeoutReply: R.NULL_ARRAY };
};

function oneSlot(keys: readonly Buffer[]): boolean {
  const slot = keyHashSlot(keys[0]);
  return keys.every((k) => keyHashSlot(k) === slot);
}

/** ZMPOP's [key, [member, score, ...]] as BZPOPMIN's [key, member, score]; nil as a null array. */
function keyMemberScore(r: KvResult): Reply {
  if (r.type === 'nil') return R.NULL_ARRAY;
  if (r.type !== 'array') return resultReply(r);
  const [key, flat] = r.value;
  if (flat?.type !== 'array' || flat.value.length < 2) return R.NULL_ARRAY;
  return R.array([resultReply(key), resultReply(flat.value[0]), scoreReply(flat.value[1])]);
}

/** ZMPOP's reply: [key, [[member, score], ...]], nil as a null array. */
function zmpopReply(r: KvResult): Reply {
  if (r.type === 'nil') return R.NULL_ARRAY;
  if (r.type !== 'array') return resultReply(r);
  const [key, flat] = r.value;
  const pairs: Reply[] = [];
  if (flat?.type === 'array')
    for (let i = 0; i + 1 < flat.value.length; i += 2) pairs.push(R.array([resultReply(flat.value[i]), scoreReply(flat.value[i + 1])]));
  return R.array([resultReply(key), R.array(pairs)]);
}

/** BZPOPMIN / BZPOPMAX key [key ...] timeout. */
function bzpop(max: boolean): BlockingParser {
  return (argv) => {
    const timeoutMs = parseTimeout(argv[argv.length - 1]);
    if (isReply(timeoutMs)) return timeoutMs;
    return {
      keys: argv.slice(1, -1),
      timeoutMs,
      type: 'zset',
      plan: (keys) => plan1({ type: 'zmpop', keys, count: 1, max }, keyMemberScore),
      timeoutReply: R.NULL_ARRAY,
    };
  };
}

/** BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]. */
const bzmpop: BlockingParser = (argv) => {
  const timeoutMs = parseTimeout(argv[1]);
  if (isReply(timeoutMs)) return timeoutMs;
  const a = mpopArgs(argv, 2, (o) => (o === 'min' ? false : o === 'max' ? true : null));
  if (isReply(a)) return a;
  const { where: max, count } = a;
  return { keys: a.keys, timeoutMs, type: 'zset', plan: (keys) => plan1({ type: 'zmpop', keys, count, max }, zmpopReply), timeoutReply: R.NULL_ARRAY };
};

/** Every group's registry, made on first use, listening to its node. */
const registries = new WeakMap<RaftNode, BlockedClients>();

/** The registry of `ctx`'s group (one per RaftNode), or undefined if none was made yet. */
export function blockedClientsOf(node: RaftNode): BlockedClients | undefined {
  return registries.get(node);
}

function registry(ctx: NodeContext): BlockedClients {
  const node = ctx.node;
  const reg = registries.get(node);
  if (reg !== undefined) return reg;
  const kv = node.kv;
  const made = new BlockedClients({
    isLeader: () => node.isLeader(),
    owns: (key) => kv.ownsKey(key),
    typeOf: (key) => kv.type(key, node.now()),
    sizeOf: (key, type) => {
      const r = kv.readCollection(type === 'list' ? { type: 'llen', key } : { type: 'zcard', key }, node.now(), Math.random);
      return r?.type === 'int' ? Number(r.value) : 1;
    },
    propose: (ops) => node.propose(ops),
    watch: (keys) => kv.watchBlocked(keys),
    takeReadied: () => kv.takeReadied(),
    errorReply: (err, key, conn) => runtimeErrorReply(node, err, keyHashSlot(key), conn.tls),
    steppedDown: (key, conn) => (kv.ownsKey(key) ? steppedDown(node, key, conn) : ROUTING_ERRORS.slotChanging(keyHashSlot(key))),
    onError: (err, conn) => {
      ctx.server?.options.onError(err, conn);
      return INTERNAL_ERROR;
    },
  });
  node.on('keysReady', () => made.keysReady());
  node.on('leader', () => made.leadershipChanged());
  // A split gave slots away: their waiters are answered TRYAGAIN (the retry finds the new group).
  node.on('split', () => queueMicrotask(() => made.leadershipChanged()));
  registries.set(node, made);
  return made;
}

/**
 * A waiter this node can no longer serve: MOVED to the new leader when one is known (Redis
 * Cluster moves clients blocked on a slot that moved the same way), else TRYAGAIN. Nothing was
 * popped for it, so retrying is safe.
 */
function steppedDown(node: RaftNode, key: Buffer, conn: ClientConn): Reply {
  const leader = node.leader();
  if (leader !== undefined && leader.id !== node.id) return redirect(node, keyHashSlot(key), conn.tls, leader);
  return R.error('TRYAGAIN the leader stepped down while the client was blocked; nothing was popped, retry');
}

/**
 * The command as a CommandImpl: `kv` compiles the non-blocking form (EXEC runs it), `block`
 * runs it on its own: the first try, then the registry if it found nothing.
 */
export function blocking(parse: BlockingParser): CommandImpl {
  return {
    kv: (_ctx, argv) => {
      const call = parse(argv);
      return isReply(call) ? call : call.plan(call.keys);
    },
    block: (ctx, conn, argv) => {
      const started = Date.now();
      const call = parse(argv);
      if (isReply(call)) return call;
      // Several groups: a waiter lives in its group's registry, and a split moves slots one by
      // one, so the keys it waits on must stay together: one slot, as Redis Cluster asks.
      if (ctx.view.spansGroups && !oneSlot(call.keys)) return ROUTING_ERRORS.crossSlot;
      // Made now, so that a disconnect during the first try is seen by it.
      const reg = registry(ctx);
      const first = call.plan(call.keys);
      const reply = conn.defer();
      const slot = keyHashSlot(call.keys[0]);
      ctx.write(conn, first.ops).then(
        (results) => {
          const r = results[0] ?? NIL;
          // A key holding the wrong type answers WRONGTYPE at once, as in Redis.
          if (r.type !== 'nil') return reply.settle(first.reply(results));
          let timeoutMs = call.timeoutMs;
          if (timeoutMs > 0) {
            timeoutMs -= Date.now() - started;
            if (timeoutMs <= 0) return reply.settle(call.timeoutReply);
          }
          reg.block({
            conn,
            keys: call.keys,
            type: call.type,
            timeoutMs,
            pop: (key) => call.plan([key]).ops[0],
            served: (key, res) => (res.type === 'nil' ? null : call.plan([key]).reply([res])),
            timeoutReply: call.timeoutReply,
            reply,
          });
        },
        (err: unknown) => {
          let r: Reply;
          try {
            r = runtimeErrorReply(ctx.node, err, slot, conn.tls);
          } catch (e) {
            if (!(e instanceof NodeClosedError)) ctx.server?.options.onError(e, conn);
            r = INTERNAL_ERROR;
          }
          reply.settle(r);
        },
      );
      return reply;
    },
  };
}

export const BLOCKING_COMMANDS = {
  blpop: blocking(bpop(true)),
  brpop: blocking(bpop(false)),
  blmove: blocking(blmove),
  blmpop: blocking(blmpop),
  bzpopmin: blocking(bzpop(false)),
  bzpopmax: blocking(bzpop(true)),
  bzmpop: blocking(bzmpop),
} as const;
