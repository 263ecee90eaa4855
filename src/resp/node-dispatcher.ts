/**
 * The RESP front end of a RaftNode: a `Dispatcher` that runs Redis commands against the node
 * (handlers/), and `startRespServer`, which the CLI uses to serve it on the configured address.
 *
 *   const server = await startRespServer(node, { onError: (err) => log.warn({ err }) });
 *   ...
 *   await server.close(); // stop accepting, flush what is owed, close connections
 */
import { ACCESS_TEXTS, respRefuses } from '../node/access.ts';
import { type OutputLimits, parseOutputLimits } from '../node/client-limits.ts';
import type { PublishEvent, RaftNode } from '../node/raft-node.ts';
import type { ClusterView } from './cluster/view.ts';
import { CommandRouter, type Handler, type HandlerTable } from './commands/router.ts';
import { HANDLER_NAMES, type HandlerName } from './commands/table.ts';
import type { ClientConn } from './conn.ts';
import { buf, isReply } from './handlers/args.ts';
import { CLUSTER_COMMANDS } from './handlers/cluster.ts';
import { CONNECTION_COMMANDS } from './handlers/connection.ts';
import { type CommandImpl, entryBytes, NodeContext, type SharedContext } from './handlers/context.ts';
import { EXPIRE_COMMANDS } from './handlers/expire.ts';
import { createGuard } from './handlers/guard.ts';
import { HASH_COMMANDS } from './handlers/hashes.ts';
import { KEY_COMMANDS } from './handlers/keys.ts';
import { LIST_COMMANDS } from './handlers/lists.ts';
import { PUBSUB_COMMANDS } from './handlers/pubsub.ts';
import { SERVER_COMMANDS } from './handlers/server.ts';
import { SET_COMMANDS } from './handlers/sets.ts';
import { STRING_COMMANDS } from './handlers/strings.ts';
import { TRANSACTION_COMMANDS } from './handlers/transactions.ts';
import { ZSET_COMMANDS } from './handlers/zsets.ts';
import { REQUEST_ARG_BYTES } from './parser.ts';
import { FollowerProxy } from './proxy/forwarder.ts';
import { type Answer, type Dispatcher, RespServer, type RespTlsOptions } from './server.ts';

/** Every command of the table, implemented once (a missing one fails to compile). */
const IMPLS = {
  ...CONNECTION_COMMANDS,
  ...SERVER_COMMANDS,
  ...STRING_COMMANDS,
  ...KEY_COMMANDS,
  ...EXPIRE_COMMANDS,
  ...PUBSUB_COMMANDS,
  ...TRANSACTION_COMMANDS,
  ...CLUSTER_COMMANDS,
  ...HASH_COMMANDS,
  ...SET_COMMANDS,
  ...LIST_COMMANDS,
  ...ZSET_COMMANDS,
} as const satisfies Record<HandlerName, CommandImpl>;

function handlerTable(ctx: NodeContext): HandlerTable {
  const table = {} as Record<HandlerName, Handler>;
  for (const name of HANDLER_NAMES) {
    const impl: CommandImpl = IMPLS[name];
    const tally = ctx.node.metrics.command(name);
    if ('local' in impl) {
      const run = impl.local;
      table[name] = (conn, argv, cmd) => {
        tally.value++;
        return run(ctx, conn, argv, cmd);
      };
    } else if (impl.read !== undefined) {
      const read = impl.read;
      table[name] = (conn, argv, cmd) => {
        tally.value++;
        return ctx.readAlone(conn, read, cmd, argv);
      };
    } else {
      const compile = impl.kv;
      table[name] = (conn, argv, cmd) => {
        tally.value++;
        const plan = compile(ctx, argv);
        if (isReply(plan)) return plan;
        return ctx.run(conn, plan, cmd, argv);
      };
    }
  }
  return table;
}

export class NodeDispatcher implements Dispatcher {
  readonly ctx: NodeContext;
  /** Forwards to the leader with follower-proxy on; serves what followers forward either way. */
  readonly proxy: FollowerProxy;
  private readonly router: CommandRouter;
  /**
   * Entries up to this index were committed before this process started: replaying them after
   * a restart must not deliver their messages again, to subscribers that connected since.
   */
  private readonly replayedUpTo: number;
  private readonly onPublish = (e: PublishEvent): void => {
    // The event fires while its entry is applied, before appliedIndex moves to it.
    if (this.node.appliedIndex < this.replayedUpTo) return;
    if (e.shard) this.ctx.subscriptions.deliverShard(buf(e.channel), buf(e.message));
    else this.ctx.subscriptions.deliver(buf(e.channel), buf(e.message));
  };

  /**
   * Create it before `node.start()`, so it knows which entries are replays. `view`: slot routing
   * and the CLUSTER replies; today's single group (cluster/single-group.ts) unless given.
   */
  constructor(
    readonly node: RaftNode,
    view?: ClusterView<RaftNode>,
    /** What the dispatchers of a multi-group node's groups share (sharded-dispatcher.ts). */
    shared?: SharedContext,
  ) {
    this.replayedUpTo = node.status().commit;
    this.ctx = new NodeContext(node, IMPLS, view, shared);
    this.proxy = new FollowerProxy(
      {
        node,
        ctx: this.ctx,
        dispatch: (conn, argv) => this.router.dispatch(conn, argv),
        disconnected: (conn) => this.ctx.subscriptions.dropAll(conn),
        onError: (err) => this.ctx.server?.options.onError(err, null),
      },
      node.cfg.followerProxy === 'yes',
    );
    this.router = new CommandRouter(handlerTable(this.ctx), {
      guard: createGuard(this.ctx, (conn) => this.proxy.takes(conn)),
      forward: (conn, cmd, argv) => this.proxy.forward(conn, cmd, argv),
      // A MULTI queue is one log entry at EXEC: one that cannot fit is refused as it grows.
      queueLimit: (conn, argv) => {
        const bytes = conn.multiBytes + conn.multiArgs * REQUEST_ARG_BYTES + entryBytes(argv);
        return bytes > this.ctx.maxEntryBytes ? this.ctx.entryTooBig(bytes) : null;
      },
    });
    node.on('publish', this.onPublish);
  }

  /** Gives CLIENT LIST, INFO and CONFIG SET maxclients the server's connections and counters. */
  attach(server: RespServer): void {
    this.ctx.server = server;
  }

  dispatch(conn: ClientConn, argv: Buffer[]): Answer {
    return this.router.dispatch(conn, argv);
  }

  disconnected(conn: ClientConn): void {
    this.ctx.subscriptions.dropAll(conn);
    this.proxy.disconnected(conn);
  }

  /** Stops delivering published messages and forwarding (the server is closed separately). */
  detach(): void {
    this.node.off('publish', this.onPublish);
    this.proxy.close();
  }
}

/**
 * Requests of one connection awaiting their replies before the server stops reading it. Each
 * waiting write is a log entry in flight; a deep pipeline only adds latency once group commit
 * batches are full, and a write that waits longer than the runtime's write timeout is answered
 * "outcome unknown". 1024 keeps `redis-cli --pipe` at full speed with sub-second latency.
 */
const MAX_IN_FLIGHT = 1024;

/** Protected mode's refusal, written as Redis writes it: the error, then the connection closes. */
const DENIED_REPLY = Buffer.from(`-DENIED ${ACCESS_TEXTS.DENIED}\r\n`);

export interface StartRespOptions {
  /** Handler exceptions and socket errors (connections survive them). */
  onError?: (err: unknown, conn: ClientConn | null) => void;
  /** RESP over TLS on cfg.host (tls-config.ts reads it from the tls-* settings). */
  tls?: RespTlsOptions;
  /** Slot -> group routing for a node hosting several groups; today's single group if absent. */
  view?: ClusterView<RaftNode>;
}

/**
 * Serves RESP for `node` on cfg.host:cfg.port with the node's limits: maxclients, AUTH when
 * requirepass is set and protected mode while it is not (both read per connection, so CONFIG
 * SET requirepass applies to new ones),
 * proto-max-bulk-len = max-value-bytes (one value must fit in one log entry), one request at
 * most one log entry, a bounded pipeline depth per connection, and the client memory limits
 * (client-query-buffer-limit, client-output-buffer-limit, maxmemory-clients) and `timeout`.
 * `port 0` serves no plain RESP, as in Redis (config.ts allows it only with a TLS port). Call it
 * before `node.start()` (see NodeDispatcher).
 */
export async function startRespServer(node: RaftNode, opts: StartRespOptions = {}): Promise<RespServer> {
  return serveResp(node.cfg, new NodeDispatcher(node, opts.view), opts);
}

/** What `serveResp` serves: a dispatcher that can be given its server and let go of. */
export interface ServedDispatcher extends Dispatcher {
  readonly ctx: Pick<NodeContext, 'maxEntryBytes'>;
  attach(server: RespServer): void;
  detach(): void;
}

/** The RESP listener for `dispatcher` under the node's settings (see startRespServer). */
export async function serveResp(cfg: RaftNode['cfg'], dispatcher: ServedDispatcher, opts: Pick<StartRespOptions, 'onError' | 'tls'> = {}): Promise<RespServer> {
  const server = new RespServer({
    dispatcher,
    host: cfg.host,
    port: cfg.port === 0 ? null : cfg.port,
    ...(opts.tls ? { tls: opts.tls } : {}),
    maxClients: cfg.maxclients,
    authRequired: () => cfg.requirepass !== '',
    refuseClient: (address) => (respRefuses(cfg, address) ? DENIED_REPLY : null),
    limits: { maxBulkLen: cfg.maxValueBytes, maxRequestBytes: dispatcher.ctx.maxEntryBytes },
    maxInFlight: MAX_IN_FLIGHT,
    queryBufferLimit: cfg.clientQueryBufferLimit,
    // Checked when the config was loaded.
    outputLimits: parseOutputLimits(cfg.clientOutputBufferLimit) as OutputLimits,
    maxMemoryClients: cfg.maxmemoryClients,
    timeout: cfg.timeout,
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  dispatcher.attach(server);
  try {
    await server.listen();
  } catch (err) {
    dispatcher.detach();
    throw err;
  }
  return server;
}
