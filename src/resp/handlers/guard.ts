/**
 * The router's guard, run before a command is queued or executed (Redis's processCommand order:
 * cluster redirection, then the OOM check):
 *  - a command that needs the leader, on a follower: `-MOVED <slot> <leader host>:<port>`, or
 *    `-CLUSTERDOWN No leader elected` when no leader is known. Writes, PUBLISH and WATCH always
 *    need the leader; reads do unless the connection sent READONLY (then a follower serves a
 *    stale local read, as a Redis Cluster replica does); other commands run anywhere.
 *  - a denyoom command (or, inside MULTI, any command to queue) on the leader while the state
 *    machine is over maxmemory and the policy cannot evict anything:
 *    `-OOM command not allowed when used memory > 'maxmemory'.`
 * EXEC is judged by what MULTI queued (and WATCHed), and routed by the first queued key.
 * With the follower proxy on, a follower lets such commands through: the router's forward hook
 * sends them to the leader (proxy/forwarder.ts).
 */
import { ERR } from '../../kv/index.ts';
import { commandSlot } from '../commands/keys.ts';
import type { RouterHooks } from '../commands/router.ts';
import type { CommandSpec } from '../commands/spec.ts';
import type { ClientConn } from '../conn.ts';
import { R, type Reply } from '../reply.ts';
import type { NodeContext } from './context.ts';
import { CLUSTERDOWN, redirect } from './runtime-errors.ts';
import { transactionSlot } from './transactions.ts';

const OOM = R.error(ERR.oom);

export type Need = 'write' | 'read' | null;

export function needOf(cmd: CommandSpec): Need {
  if (cmd.is.write || cmd.name === 'publish' || cmd.name === 'watch') return 'write';
  return cmd.is.readonly ? 'read' : null;
}

/** What EXEC needs: the strongest need of the queued commands; any WATCH needs the leader. */
export function transactionNeed(conn: ClientConn): { need: Need; denyoom: boolean } {
  let need: Need = conn.watched.size > 0 ? 'write' : null;
  let denyoom = false;
  for (const q of conn.multi ?? []) {
    const n = needOf(q.cmd);
    if (n === 'write') need = 'write';
    else if (n === 'read' && need === null) need = 'read';
    denyoom ||= q.cmd.is.denyoom;
  }
  return { need, denyoom };
}

/** Inside MULTI every command that would be queued counts as denyoom: the queue takes memory. */
function queues(conn: ClientConn, cmd: CommandSpec): boolean {
  return conn.multi !== null && !NEVER_REFUSED_IN_MULTI.has(cmd.name);
}

const NEVER_REFUSED_IN_MULTI = new Set(['exec', 'discard', 'quit', 'reset']);

/**
 * `proxied`: the follower proxy takes this connection's commands (proxy/forwarder.ts), so a
 * follower lets them through to be forwarded (or queued in MULTI) instead of redirecting.
 */
export function createGuard(ctx: NodeContext, proxied: (conn: ClientConn) => boolean = () => false): NonNullable<RouterHooks['guard']> {
  const node = ctx.node;
  /** Over maxmemory with nothing the policy may evict (Redis: performEvictions fails). */
  const outOfMemory = (): boolean => {
    const kv = node.kv;
    if (!kv.overMaxmemory()) return false;
    const policy = node.cfg.maxmemoryPolicy;
    return policy === 'noeviction' || kv.evictionCandidates(kv.bytesOverMaxmemory(), policy, Math.random, 1).length === 0;
  };
  return (conn: ClientConn, cmd: CommandSpec, argv: Buffer[]): Reply | null => {
    const inExec = cmd.name === 'exec' && conn.multi !== null;
    const { need, denyoom } = inExec ? transactionNeed(conn) : { need: needOf(cmd), denyoom: cmd.is.denyoom || queues(conn, cmd) };
    const leader = node.isLeader();
    if (need !== null && !leader && !proxied(conn)) {
      if (node.leader() === undefined) return CLUSTERDOWN;
      if (need === 'write' || !conn.readonly) {
        return redirect(node, inExec ? transactionSlot(conn.multi ?? []) : commandSlot(cmd, argv), conn.tls);
      }
    }
    if (denyoom && leader && outOfMemory()) return OOM;
    return null;
  };
}
