/**
 * Pub/sub. PUBLISH goes through the log (a `publish` op), and every node delivers each applied
 * message to its own subscribers, so all subscribers on all nodes see one total order. The
 * reply to PUBLISH counts the receivers on the node that took the command (the leader), not
 * cluster-wide: that is what Redis Cluster does too.
 *
 * Sharded pub/sub (Redis 7): SPUBLISH goes through the log of the group owning the channel's
 * slot, and every replica of that group delivers it to its SSUBSCRIBE subscribers; the guard
 * routes both by the channel's slot (MOVED elsewhere, CROSSSLOT for channels of different
 * slots). The log carries the message's kind in its channel field (cluster/shard-channel.ts).
 *
 * Subscription confirmations are pushes: arrays in RESP2, `>` frames in RESP3, as in Redis. The
 * count in SUBSCRIBE/PSUBSCRIBE confirmations is the connection's channels and patterns; in
 * SSUBSCRIBE/SUNSUBSCRIBE ones its shard channels (Redis's two counts).
 */
import type { ClientConn } from '../conn.ts';
import { R, type Reply } from '../reply.ts';
import { type CommandImpl, kv, type LocalHandler, local, type NodeContext } from './context.ts';
import { resultReply, single } from './plan.ts';
import { ownNames, type SubscriptionKind } from './subscriptions.ts';

const name = (s: string): Buffer => Buffer.from(s, 'latin1');

const KINDS = {
  channel: { subscribe: R.bulk('subscribe'), unsubscribe: R.bulk('unsubscribe') },
  pattern: { subscribe: R.bulk('psubscribe'), unsubscribe: R.bulk('punsubscribe') },
  shard: { subscribe: R.bulk('ssubscribe'), unsubscribe: R.bulk('sunsubscribe') },
} as const satisfies Record<SubscriptionKind, object>;

function count(conn: ClientConn, kind: SubscriptionKind): Reply {
  return R.int(kind === 'shard' ? conn.shardChannels.size : conn.channels.size + conn.patterns.size);
}

function subscribe(kind: SubscriptionKind): LocalHandler {
  const reply = KINDS[kind].subscribe;
  return (ctx, conn, argv) => {
    const replies: Reply[] = [];
    for (let i = 1; i < argv.length; i++) {
      ctx.subscriptions.subscribe(conn, argv[i].toString('latin1'), kind);
      replies.push(R.push([reply, R.bulk(argv[i]), count(conn, kind)]));
    }
    return R.many(replies);
  };
}

function unsubscribe(kind: SubscriptionKind): LocalHandler {
  const reply = KINDS[kind].unsubscribe;
  return (ctx, conn, argv) => {
    const names = argv.length > 1 ? argv.slice(1).map((a) => a.toString('latin1')) : [...ownNames(conn, kind)];
    if (names.length === 0) return R.many([R.push([reply, R.NULL, count(conn, kind)])]);
    const replies: Reply[] = [];
    for (const n of names) {
      ctx.subscriptions.unsubscribe(conn, n, kind);
      replies.push(R.push([reply, R.bulk(name(n)), count(conn, kind)]));
    }
    return R.many(replies);
  };
}

/** PUBLISH or SPUBLISH: one log entry; the reply counts this node's receivers once it applied. */
function publish(shard: boolean) {
  return kv((ctx: NodeContext, argv: Buffer[]) =>
    single({ type: shard ? 'spublish' : 'publish', channel: argv[1], message: argv[2] }, (r) => {
      if (r.type !== 'publish') return resultReply(r);
      return R.int(shard ? ctx.subscriptions.shardReceivers(argv[1]) : ctx.subscriptions.receivers(argv[1]));
    }),
  );
}

/** `PUBSUB CHANNELS|SHARDCHANNELS [pattern]`. */
function activeChannels(subcommand: string, list: (ctx: NodeContext, pattern?: string) => string[]): LocalHandler {
  return (ctx, _conn, argv) => {
    if (argv.length > 3) {
      return R.error(`ERR unknown subcommand or wrong number of arguments for '${subcommand}'. Try PUBSUB HELP.`);
    }
    const pattern = argv.length === 3 ? argv[2].toString('latin1') : undefined;
    return R.array(list(ctx, pattern).map((c) => R.bulk(name(c))));
  };
}

/** `PUBSUB NUMSUB|SHARDNUMSUB [channel ...]`. */
function numsub(subscribers: (ctx: NodeContext, channel: string) => number): LocalHandler {
  return (ctx, _conn, argv) => {
    const out: Reply[] = [];
    for (let i = 2; i < argv.length; i++) out.push(R.bulk(argv[i]), R.int(subscribers(ctx, argv[i].toString('latin1'))));
    return R.array(out);
  };
}

export const PUBSUB_COMMANDS = {
  publish: publish(false),
  spublish: publish(true),
  subscribe: local(subscribe('channel')),
  psubscribe: local(subscribe('pattern')),
  ssubscribe: local(subscribe('shard')),
  unsubscribe: local(unsubscribe('channel')),
  punsubscribe: local(unsubscribe('pattern')),
  sunsubscribe: local(unsubscribe('shard')),
  'pubsub|channels': local(activeChannels('channels', (ctx, p) => ctx.subscriptions.activeChannels(p))),
  'pubsub|numsub': local(numsub((ctx, ch) => ctx.subscriptions.subscribers(ch))),
  'pubsub|numpat': local((ctx) => R.int(ctx.subscriptions.patternCount)),
  'pubsub|shardchannels': local(activeChannels('shardchannels', (ctx, p) => ctx.subscriptions.activeShardChannels(p))),
  'pubsub|shardnumsub': local(numsub((ctx, ch) => ctx.subscriptions.shardSubscribers(ch))),
} as const satisfies Record<string, CommandImpl>;
