/**
 * Which commands the follower proxy sends to the leader, and in what form: everything that
 * would answer MOVED or CLUSTERDOWN on a follower (writes, PUBLISH, reads without READONLY,
 * EXEC, CONFIG SET of cluster-wide parameters), each alone, or a transaction as MULTI, its
 * queued commands and EXEC. Kept apart from the forwarding machinery (forwarder.ts) so the
 * rule reads in one place.
 */
import type { CommandSpec } from '../commands/spec.ts';
import type { HandlerName } from '../commands/table.ts';
import type { ClientConn } from '../conn.ts';
import { PROXY_ERRORS } from '../errors.ts';
import { configSetScope } from '../handlers/config.ts';
import type { CommandImpl } from '../handlers/context.ts';
import { needOf, transactionNeed } from '../handlers/guard.ts';
import type { Reply } from '../reply.ts';

/** Local commands that may run inside a forwarded transaction: they change no connection state. */
const SAFE_LOCAL_IN_MULTI = new Set(['ping', 'echo']);

/** What to send: the commands, whether they may change state, and their size in a log entry. */
export interface Route {
  commands: Buffer[][];
  write: boolean;
  bytes: number;
  /** A transaction: its reply is that of its last command (EXEC). */
  tx: boolean;
  /**
   * Changes what this node does (CONFIG SET requirepass, maxmemory): the reply waits until this
   * node has applied the entry, as Redis's CONFIG SET is in effect when it answers OK.
   */
  appliedHere: boolean;
}

function bytesOf(argv: readonly Buffer[]): number {
  let n = 0;
  for (const a of argv) n += a.length + 8;
  return n;
}

/**
 * The route of a command about to run on a follower: what to send, a refusal, or null to run it
 * here. For EXEC it takes the transaction out of the connection (the WATCHes stay until the
 * unit leaves: forwarder.ts).
 */
export function routeOf(impls: Readonly<Record<HandlerName, CommandImpl>>, conn: ClientConn, cmd: CommandSpec, argv: Buffer[]): Route | Reply | null {
  if (cmd.name === 'exec') return routeExec(impls, conn);
  // WATCH runs here after a ReadIndex barrier; its versions go with EXEC.
  if (cmd.name === 'watch') return null;
  // Cluster-wide parameters go to the leader (they are a log entry); per-node ones stay here.
  if (cmd.name === 'config|set') {
    const scope = configSetScope(argv);
    if (scope === 'local') return null;
    if (scope === 'mixed') return PROXY_ERRORS.mixedConfigSet;
    return { commands: [argv], write: true, bytes: bytesOf(argv), tx: false, appliedHere: true };
  }
  // A blocking pop may wait its whole timeout, far beyond a forward's: it runs here, where its
  // first pop is refused with MOVED to the leader (issue 14).
  if (cmd.is.blocking) return null;
  const need = needOf(cmd);
  if (need === null || (need === 'read' && conn.readonly)) return null;
  return { commands: [argv], write: need === 'write', bytes: bytesOf(argv), tx: false, appliedHere: false };
}

function routeExec(impls: Readonly<Record<HandlerName, CommandImpl>>, conn: ClientConn): Route | Reply | null {
  const queued = conn.multi;
  if (queued === null || conn.multiDirty) return null;
  const need = transactionNeed(conn).need;
  if (need === null || (need === 'read' && conn.readonly)) return null;
  for (const q of queued) {
    const impl = impls[q.cmd.name as HandlerName];
    if ('local' in impl && !SAFE_LOCAL_IN_MULTI.has(q.cmd.name)) {
      conn.clearMulti();
      conn.watched.clear();
      conn.watchDirty = false;
      return PROXY_ERRORS.notInForwardedMulti(q.cmd.name.replace('|', ' '));
    }
  }
  conn.clearMulti();
  const commands: Buffer[][] = [[Buffer.from('MULTI')]];
  let bytes = 0;
  let write = conn.watched.size > 0;
  for (const q of queued) {
    commands.push(q.argv);
    bytes += bytesOf(q.argv);
    write ||= needOf(q.cmd) === 'write';
  }
  commands.push([Buffer.from('EXEC')]);
  return { commands, write, bytes, tx: true, appliedHere: false };
}
