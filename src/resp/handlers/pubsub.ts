/**
 * Pub/sub. PUBLISH goes through the log (a `publish` op), and every node delivers each applied
 * message to its own subscribers, so all subscribers on all nodes see one total order. The
 * reply to PUBLISH counts the receivers on the node that took the command (the leader), not
 * cluster-wide: that is what Redis Cluster does too.
 *
 * Subscription confirmations are pushes: arrays in RESP2, `>` frames in RESP3, as in Redis.
 */
import type { ClientConn } from '../conn.ts';
import { R, type Reply } from '../reply.ts';
import { buf } from './args.ts';
import { type CommandImpl, kv, type LocalHandler, local } from './context.ts';
import { resultReply, single } from './plan.ts';

const count = (conn: ClientConn): Reply => R.int(conn.channels.size + conn.patterns.size);
const name = (s: string): Buffer => Buffer.from(s, 'latin1');

function subscribe(pattern: boolean): LocalHandler {
  const kind = R.bulk(pattern ? 'psubscribe' : 'subscribe');
  return (ctx, conn, argv) => {
    const replies: Reply[] = [];
    for (let i = 1; i < argv.length; i++) {
      ctx.subscriptions.subscribe(conn, argv[i].toString('latin1'), pattern);
      replies.push(R.push([kind, R.bulk(argv[i]), count(conn)]));
    }
    return R.many(replies);
  };
}

function unsubscribe(pattern: boolean): LocalHandler {
  const kind = R.bulk(pattern ? 'punsubscribe' : 'unsubscribe');
  return (ctx, conn, argv) => {
    const names = argv.length > 1 ? argv.slice(1).map((a) => a.toString('latin1')) : [...(pattern ? conn.patterns : conn.channels)];
    if (names.length === 0) return R.many([R.push([kind, R.NULL, count(conn)])]);
    const replies: Reply[] = [];
    for (const n of names) {
      ctx.subscriptions.unsubscribe(conn, n, pattern);
      replies.push(R.push([kind, R.bulk(name(n)), count(conn)]));
    }
    return R.many(replies);
  };
}

export const PUBSUB_COMMANDS = {
  publish: kv((ctx, argv) =>
    single({ type: 'publish', channel: argv[1], message: argv[2] }, (r) =>
      r.type === 'publish' ? R.int(ctx.subscriptions.receivers(buf(r.channel))) : resultReply(r),
    ),
  ),
  subscribe: local(subscribe(false)),
  psubscribe: local(subscribe(true)),
  unsubscribe: local(unsubscribe(false)),
  punsubscribe: local(unsubscribe(true)),
  'pubsub|channels': local((ctx, _conn, argv) => {
    if (argv.length > 3) {
      return R.error("ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP.");
    }
    const pattern = argv.length === 3 ? argv[2].toString('latin1') : undefined;
    return R.array(ctx.subscriptions.activeChannels(pattern).map((c) => R.bulk(name(c))));
  }),
  'pubsub|numsub': local((ctx, _conn, argv) => {
    const out: Reply[] = [];
    for (let i = 2; i < argv.length; i++) {
      out.push(R.bulk(argv[i]), R.int(ctx.subscriptions.subscribers(argv[i].toString('latin1'))));
    }
    return R.array(out);
  }),
  'pubsub|numpat': local((ctx) => R.int(ctx.subscriptions.patternCount)),
} as const satisfies Record<string, CommandImpl>;
