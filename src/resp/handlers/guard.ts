/**
 * The router's guard, run before a command is queued or executed (Redis's processCommand order:
 * cluster redirection, then the OOM check). It sees the cluster through the context's
 * `ClusterView` (cluster/view.ts), one group per slot range:
 *  - keys (or shard channels) in different groups: `-CROSSSLOT ...`; a slot no group owns:
 *    `-CLUSTERDOWN Hash slot not served` (cluster/routing.ts);
 *  - a command that needs its group's leader, on another node: `-MOVED <slot> <leader
 *    host>:<port>`, or `-CLUSTERDOWN No leader elected` when no leader is known, or `-TRYAGAIN`
 *    while the slot's group is being split or moved. Writes, PUBLISH, SPUBLISH and WATCH always
 *    need the leader; reads do unless the connection sent READONLY and this node hosts a
 *    replica of the group (then it serves a stale local read, as a Redis Cluster replica does);
 *    SSUBSCRIBE needs a replica of its group; other commands run anywhere.
 *  - a denyoom command (or, inside MULTI, any command to queue) on the leader while the state
 *    machine is over maxmemory and the policy cannot evict anything:
 *    `-OOM command not allowed when used memory > 'maxmemory'.`
 * EXEC is judged by what MULTI queued (and WATCHed), and routed by the first queued key.
 * With the follower proxy on, a follower lets such commands through: the router's forward hook
 * sends them to the leader (proxy/forwarder.ts).
 */
import { ERR } from '../../kv/index.ts';
import { KEYLESS, requestSlot, routesPerSlot, transactionSlot } from '../cluster/routing.ts';
import type { SlotOwner } from '../cluster/view.ts';
import { commandSlot } from '../commands/keys.ts';
import type { RouterHooks } from '../commands/router.ts';
import type { CommandSpec } from '../commands/spec.ts';
import type { ClientConn } from '../conn.ts';
import { R, type Reply } from '../reply.ts';
import { ROUTING_ERRORS } from '../errors.ts';
import type { NodeContext } from './context.ts';
import { CLUSTERDOWN, redirectTo } from './runtime-errors.ts';

const OOM = R.error(ERR.oom);

export type Need = 'write' | 'read' | null;

export function needOf(cmd: CommandSpec): Need {
  if (cmd.is.write || cmd.name === 'publish' || cmd.name === 'spublish' || cmd.name === 'watch') return 'write';
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

/** Commands that run on any node hosting a replica of their channels' group (SSUBSCRIBE). */
const REPLICA_COMMANDS = new Set(['ssubscribe']);

/**
 * `proxied`: the follower proxy takes this connection's commands (proxy/forwarder.ts), so a
 * follower lets them through to be forwarded (or queued in MULTI) instead of redirecting.
 */
export function createGuard(ctx: NodeContext, proxied: (conn: ClientConn) => boolean = () => false): NonNullable<RouterHooks['guard']> {
  const node = ctx.node;
  const view = ctx.view;
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
    // Redis checks the keys' slots (CROSSSLOT, unbound slots) before anything else cluster-wise.
    // With one group owning every slot nothing is CROSSSLOT and the owner is the same for every
    // slot, so a plain command's slot is hashed only for a MOVED reply (the hot path).
    const eager = inExec || view.spansGroups || routesPerSlot(cmd);
    let slot = KEYLESS;
    if (eager) {
      const s = inExec ? transactionSlot(view, conn.multi ?? [], conn.watched.keys()) : requestSlot(view, cmd, argv);
      if (typeof s !== 'number') return s;
      slot = s;
    }
    const routed = (): number => (eager ? Math.max(slot, 0) : commandSlot(cmd, argv));
    if (need !== null) {
      const refused = routeTo(view.self, view.owner(Math.max(slot, 0)), routed, need, conn, proxied);
      if (refused !== null) return refused;
    } else if (slot !== KEYLESS && REPLICA_COMMANDS.has(cmd.name)) {
      const owner = view.owner(slot);
      if (owner === undefined) return ROUTING_ERRORS.slotUnbound;
      if (owner.local === undefined) return redirectTo(view.self, owner.leader, slot, conn.tls);
    }
    if (denyoom && node.isLeader() && outOfMemory()) return OOM;
    return null;
  };
}

/**
 * Whether a command that needs its group's leader (or, for a READONLY read, any replica) runs
 * here: null to run, else MOVED to the leader, CLUSTERDOWN without one, TRYAGAIN mid-change.
 */
function routeTo(
  self: string,
  owner: SlotOwner<unknown> | undefined,
  slot: () => number,
  need: NonNullable<Need>,
  conn: ClientConn,
  proxied: (conn: ClientConn) => boolean,
): Reply | null {
  if (owner === undefined) return ROUTING_ERRORS.slotUnbound;
  if (owner.changing) return ROUTING_ERRORS.slotChanging(slot());
  if (owner.leads) return null;
  // The follower proxy forwards over this node's link in the group: only for a local group.
  if (owner.local !== undefined && proxied(conn)) return null;
  if (owner.leader === undefined) return CLUSTERDOWN;
  if (need === 'read' && conn.readonly && owner.local !== undefined) return null;
  return redirectTo(self, owner.leader, slot(), conn.tls);
}
