/**
 * A `Dispatcher` that does what Redis 7.0's processCommand does before a command runs, in the
 * same order, and then calls the command's handler from a table:
 *
 *   lookup (unknown command / subcommand) -> arity -> NOAUTH -> no-multi -> guard hook
 *   (MOVED, CLUSTERDOWN, OOM) -> RESP2 subscribe-mode restriction -> MULTI queueing -> forward
 *   hook (the follower proxy) -> handler
 *
 * A rejection while a MULTI is open marks the transaction so EXEC answers EXECABORT. The table
 * type has one entry per supported command, so a missing handler is a compile error.
 */
import type { ClientConn } from '../conn.ts';
import { R, type Reply } from '../reply.ts';
import type { Answer, Dispatcher } from '../server.ts';
import { checkArity, execAbortError, NO_MULTI_ERROR, NOAUTH_ERROR, pubsubContextError, unknownCommandError, unknownSubcommandError } from './errors.ts';
import type { CommandSpec } from './spec.ts';
import { type HandlerName, lookupCommand, resolveCommand } from './table.ts';

/** Runs one command. `argv` has passed the arity check; `cmd` is the resolved (sub)command. */
export type Handler = (conn: ClientConn, argv: Buffer[], cmd: CommandSpec) => Answer;

/** One handler per command and subcommand ("get", "client|setname", bare "command"). */
export type HandlerTable = { readonly [K in HandlerName]: Handler };

export interface RouterHooks {
  /**
   * Runs once the command is known, its arity right and the client authenticated, before MULTI
   * queueing: return an error reply to refuse (MOVED, CLUSTERDOWN, OOM), or null to go on.
   */
  guard?(conn: ClientConn, cmd: CommandSpec, argv: Buffer[]): Reply | null;
  /**
   * Before a command joins a MULTI queue: an error reply when the queue, with `argv` added,
   * would be too big to run (EXEC then answers EXECABORT and the queue is dropped), else null.
   */
  queueLimit?(conn: ClientConn, argv: Buffer[]): Reply | null;
  /**
   * Just before a command runs (not when it is queued after MULTI): an answer when something
   * else takes it (the follower proxy sends it to the leader), or null to run its handler here.
   */
  forward?(conn: ClientConn, cmd: CommandSpec, argv: Buffer[]): Answer | null;
  connected?(conn: ClientConn): void;
  disconnected?(conn: ClientConn): void;
}

/** Redis's discardTransaction: the queue, its doom flag and the watches go. */
export function discardTransaction(conn: ClientConn): void {
  conn.clearMulti();
  conn.watched.clear();
  conn.watchDirty = false;
}

/** What a RESP2 connection in subscribe mode may still run. */
const SUBSCRIBE_MODE_ALLOWED = new Set(['ping', 'subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe', 'quit', 'reset']);
/** What runs at once inside MULTI instead of being queued. */
const MULTI_IMMEDIATE = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);

export class CommandRouter implements Dispatcher {
  constructor(
    readonly handlers: HandlerTable,
    private readonly hooks: RouterHooks = {},
  ) {}

  dispatch(conn: ClientConn, argv: Buffer[]): Answer {
    const cmd = resolveCommand(argv);
    if (cmd === null) {
      const container = lookupCommand(argv[0]);
      conn.lastCommand = null;
      return this.reject(conn, null, container !== null ? unknownSubcommandError(argv) : unknownCommandError(argv));
    }
    conn.lastCommand = cmd.name;
    const arityError = checkArity(cmd, argv.length);
    if (arityError !== null) return this.reject(conn, cmd, arityError);
    if (!conn.authenticated && !cmd.is.no_auth) return this.reject(conn, cmd, NOAUTH_ERROR);
    if (conn.multi !== null && cmd.is.no_multi) return this.reject(conn, cmd, NO_MULTI_ERROR);
    const refused = this.hooks.guard?.(conn, cmd, argv) ?? null;
    if (refused !== null) {
      // A redirect refuses EXEC by dropping the transaction, and answers as is (Redis Cluster).
      if (cmd.name === 'exec') discardTransaction(conn);
      else if (conn.multi !== null) conn.multiDirty = true;
      return refused;
    }
    if (conn.resp === 2 && conn.subscribed && !SUBSCRIBE_MODE_ALLOWED.has(cmd.name)) {
      return this.reject(conn, cmd, pubsubContextError(cmd));
    }
    if (conn.multi !== null && !MULTI_IMMEDIATE.has(cmd.name)) {
      // A doomed transaction keeps nothing more: EXEC will only answer EXECABORT.
      if (conn.multiDirty) return R.QUEUED;
      const tooBig = this.hooks.queueLimit?.(conn, argv) ?? null;
      if (tooBig !== null) {
        conn.multi = [];
        conn.multiArgs = 0;
        conn.multiBytes = 0;
        conn.multiDirty = true;
        return tooBig;
      }
      conn.queue(cmd, argv);
      return R.QUEUED;
    }
    return this.hooks.forward?.(conn, cmd, argv) ?? this.execute(conn, cmd, argv);
  }

  /** Runs a command's handler with no checks: EXEC uses it for the commands it queued. */
  execute(conn: ClientConn, cmd: CommandSpec, argv: Buffer[]): Answer {
    return this.handlers[cmd.name as HandlerName](conn, argv, cmd);
  }

  connected(conn: ClientConn): void {
    this.hooks.connected?.(conn);
  }

  disconnected(conn: ClientConn): void {
    this.hooks.disconnected?.(conn);
  }

  /**
   * Redis's rejectCommand: a refused command inside MULTI dooms the transaction, and a refused
   * EXEC drops it and answers `EXECABORT Transaction discarded because of: <reason>`.
   */
  private reject(conn: ClientConn, cmd: CommandSpec | null, reply: Reply): Reply {
    if (cmd?.name === 'exec') {
      discardTransaction(conn);
      return execAbortError(reply);
    }
    if (conn.multi !== null) conn.multiDirty = true;
    return reply;
  }
}
