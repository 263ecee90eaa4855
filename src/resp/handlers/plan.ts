/**
 * A keyspace command compiles to a plan: the kv ops it runs and how their results become its
 * reply. One plan serves both ways a command runs:
 *  - alone: a plan of read ops is evaluated against the local state machine (after a
 *    linearizable barrier, or stale with READONLY on a follower); a plan with a write is
 *    proposed as one log entry and answered from the results of apply;
 *  - inside MULTI: EXEC concatenates the plans' ops into one entry and hands each plan back
 *    its own slice of the results.
 * Compiling validates every argument first, so a malformed command is answered without
 * touching the log.
 */
import { ERR, isWriteOp, type KvOp, type KvResult, type KvStore, type Rng, WRONG_TYPE } from '../../kv/index.ts';
import { ROUTING_ERRORS } from '../errors.ts';
import { R, type Reply } from '../reply.ts';
import { buf } from './args.ts';

export interface KvPlan {
  readonly ops: KvOp[];
  /** The reply from this plan's results, one per op, in order. */
  reply(results: readonly KvResult[]): Reply;
}

/** True when nothing in the plans changes state, so they can be served as a read. */
export function readOnly(ops: readonly KvOp[]): boolean {
  for (const op of ops) if (isWriteOp(op)) return false;
  return true;
}

/** The generic KvResult -> Reply mapping (a plan overrides it where Redis replies differently). */
export function resultReply(r: KvResult): Reply {
  switch (r.type) {
    case 'ok':
      return R.OK;
    case 'nil':
      return R.NULL;
    case 'int':
      return R.int(r.value);
    case 'bulk':
      return R.bulk(buf(r.value));
    case 'status':
      return R.simple(r.value);
    case 'array':
      return R.array(r.value.map(resultReply));
    case 'error':
      return R.error(r.message);
    case 'aborted':
      return R.NULL_ARRAY;
    case 'publish':
      // Only PUBLISH produces it, and its plan counts receivers instead.
      throw new TypeError('publish result without a PUBLISH plan');
    case 'settings':
      // CONFIG SET: the node has adopted the settings by the time the reply is made.
      return R.OK;
    case 'moved':
      // The group no longer owns the slot (a split applied after routing): nothing ran, and the
      // client's retry follows the slot map to the new owner. A single-group node owns every slot.
      return ROUTING_ERRORS.slotChanging(r.slot);
    case 'split':
      // Only the shard admin path proposes SPLIT; a reply, should one reach a client, says it applied.
      return R.OK;
  }
}

/** One op whose result maps to the reply; a class, so building one creates no closure. */
class SinglePlan implements KvPlan {
  readonly ops: KvOp[];

  constructor(
    op: KvOp,
    private readonly map: (r: KvResult) => Reply,
  ) {
    this.ops = [op];
  }

  reply(results: readonly KvResult[]): Reply {
    return this.map(results[0]);
  }
}

/** A plan of one op whose result maps with `resultReply` (or `map`). */
export function single(op: KvOp, map: (r: KvResult) => Reply = resultReply): KvPlan {
  return new SinglePlan(op, map);
}

/** A read-only plan's reply from the local state machine at `now`. */
export function evalPlan(kv: KvStore, plan: KvPlan, now: number): Reply {
  const ops = plan.ops;
  const results: KvResult[] = new Array(ops.length);
  for (let i = 0; i < ops.length; i++) results[i] = evalRead(kv, ops[i], now, Math.random);
  return plan.reply(results);
}

const bulkOrNil = (b: Uint8Array | null): KvResult => (b === null ? { type: 'nil' } : { type: 'bulk', value: b });
const WRONGTYPE_RESULT: KvResult = { type: 'error', message: ERR.wrongType };

/** GET's result from getBinary: the value, nil, or WRONGTYPE for a collection (nil for MGET). */
function stringResult(v: string | null | typeof WRONG_TYPE, wrongType: KvResult): KvResult {
  if (v === WRONG_TYPE) return wrongType;
  return v === null ? { type: 'nil' } : { type: 'bulk', value: Buffer.from(v, 'latin1') };
}
const int = (value: number): KvResult => ({ type: 'int', value });
const NIL_RESULT: KvResult = { type: 'nil' };
const TOUCH = { touch: true } as const;

/**
 * A read op evaluated against the local state machine at `now`, with the result apply would
 * give at a timestamp of `now`. GET-like reads mark the key recently used, as apply does.
 */
export function evalRead(kv: KvStore, op: KvOp, now: number, rng: Rng): KvResult {
  switch (op.type) {
    case 'get':
      return stringResult(kv.getBinary(op.key, now, TOUCH), WRONGTYPE_RESULT);
    case 'mget':
      return { type: 'array', value: op.keys.map((k) => stringResult(kv.getBinary(k, now, TOUCH), NIL_RESULT)) };
    case 'exists': {
      let n = 0;
      for (const k of op.keys) if (kv.exists(k, now)) n++;
      return int(n);
    }
    case 'strlen': {
      const v = kv.getBinary(op.key, now, TOUCH);
      return v === WRONG_TYPE ? WRONGTYPE_RESULT : int(v?.length ?? 0);
    }
    case 'type':
      return { type: 'status', value: kv.type(op.key, now) };
    case 'ttl':
      return int(kv.ttl(op.key, now, op.unit));
    case 'expiretime':
      return int(kv.expireTime(op.key, now, op.unit));
    case 'dbsize':
      return int(kv.dbsize(now));
    case 'keys':
      return { type: 'array', value: kv.keys(op.pattern, now).map((k) => ({ type: 'bulk', value: k })) };
    case 'scan': {
      const page = kv.scan(op.cursor, { match: op.match, count: op.count }, now);
      return {
        type: 'array',
        value: [
          { type: 'bulk', value: Buffer.from(String(page.cursor)) },
          { type: 'array', value: page.keys.map((k) => ({ type: 'bulk', value: k })) },
        ],
      };
    }
    case 'randomkey':
      return bulkOrNil(kv.randomKey(rng, now));
    default: {
      const r = kv.readCollection(op, now, rng);
      if (r === undefined) throw new TypeError(`${op.type} is not a read op`);
      return r;
    }
  }
}
