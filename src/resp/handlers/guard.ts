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
 * EXEC is judged by what MULTI queued (and WATCHed), and routed by the first queued key, else the
 * first WATCHed one.
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
import { ROUTING_ERRORS } from '../errors.ts';
import { R, type Reply } from '../reply.ts';
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

/**
 * Keyless commands Redis Cluster runs on each node over its own keys: with several groups they
 * run on a node that leads one (the groups it leads answer), instead of going to slot 0's group.
 * PUBLISH is not one of them (it is cluster-wide), nor is EXEC.
 */
const NODE_WIDE = new Set(['dbsize', 'keys', 'scan', 'randomkey', 'flushall', 'flushdb']);

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
    if (need !== null) {
      const publish = cmd.name === 'publish' && ctx.metadataOwner !== undefined ? ctx.metadataOwner() : undefined;
      const owner = publish
        ? publish.owner
        : eager && slot === KEYLESS && NODE_WIDE.has(cmd.name)
          ? (view.localLeader() ?? view.owner(0))
          : view.owner(Math.max(slot, 0));
      const verdict = verdictOf(owner, need, conn, proxied);
      if (verdict !== 'run') return refusal(verdict, view.self, owner, publish ? publish.slot : eager ? Math.max(slot, 0) : commandSlot(cmd, argv), conn.tls);
    } else if (slot !== KEYLESS && REPLICA_COMMANDS.has(cmd.name)) {
      const owner = view.owner(slot);
      if (owner === undefined) return ROUTING_ERRORS.slotUnbound;
      if (owner.local === undefined) return redirectTo(view.self, owner.leader, slot, conn.tls);
    }
    if (denyoom && node.isLeader() && outOfMemory()) return OOM;
    return null;
  };
}

type Verdict = 'run' | 'unbound' | 'changing' | 'down' | 'moved';

/**
 * Whether a command that needs its group's leader (or, for a READONLY read, any replica) runs
 * here. No closure or slot is made on the way: this runs for every keyed command.
 */
function verdictOf(owner: SlotOwner<unknown> | undefined, need: NonNullable<Need>, conn: ClientConn, proxied: (conn: ClientConn) => boolean): Verdict {
  if (owner === undefined) return 'unbound';
  if (owner.changing) return 'changing';
  if (owner.leads) return 'run';
  // The follower proxy forwards over this node's link in the group: only for a local group.
  if (owner.local !== undefined && proxied(conn)) return 'run';
  if (owner.leader === undefined) return 'down';
  if (need === 'read' && conn.readonly && owner.local !== undefined) return 'run';
  return 'moved';
}

/** The reply for a verdict other than 'run': MOVED to the leader, CLUSTERDOWN, TRYAGAIN. */
function refusal(verdict: Exclude<Verdict, 'run'>, self: string, owner: SlotOwner<unknown> | undefined, slot: number, tls: boolean): Reply {
  if (verdict === 'unbound') return ROUTING_ERRORS.slotUnbound;
  if (verdict === 'changing') return ROUTING_ERRORS.slotChanging(slot);
  if (verdict === 'down') return CLUSTERDOWN;
  return redirectTo(self, owner?.leader, slot, tls);
}
