/**
 * The RESP front end of a node hosting many groups (issue 13): one `NodeDispatcher` per local
 * group, each running commands against its own group's `RaftNode`, behind one dispatcher that
 * picks the group a request belongs to.
 *
 * Every group's dispatcher routes by the same view (the store's `CurrentView`), so its guard
 * answers CROSSSLOT, MOVED, TRYAGAIN and CLUSTERDOWN the same whichever dispatcher runs it; the
 * pick only decides whose state machine serves a request that runs here:
 *  - a keyed command: the group owning its keys' slot;
 *  - EXEC: the group of the transaction's keys (queued commands and WATCHed keys);
 *  - DBSIZE, KEYS, SCAN and the like (run per node, as in Redis Cluster): a group this node
 *    leads;
 *  - PUBLISH: the metadata group, which every node hosts, so each node applies the message and
 *    delivers it to its own subscribers: cluster-wide, in one order, as Redis 7 has it;
 *  - CONFIG SET: the metadata group too, whose log holds the cluster-wide settings;
 *  - anything else (PING, CLIENT, INFO, CONFIG GET): the group owning slot 0 if hosted here, else
 *    the lowest local data group.
 * Subscriptions, INFO's run id and uptime are the process's, shared by every group's context,
 * so a SUBSCRIBE served by one group hears a PUBLISH applied by another.
 */

import type { RaftNode } from '../node/raft-node.ts';
import type { NodeStore } from '../node/store/store.ts';
import { METADATA_GROUP } from '../shard/index.ts';
import type { CurrentView } from './cluster/layout-view.ts';
import { KEYLESS, requestSlot, transactionSlot } from './cluster/routing.ts';
import type { SlotOwner } from './cluster/view.ts';
import { resolveCommand } from './commands/table.ts';
import type { ClientConn } from './conn.ts';
import { newSharedContext, type SharedContext } from './handlers/context.ts';
import { NodeDispatcher, type ServedDispatcher, type StartRespOptions, serveResp } from './node-dispatcher.ts';
import type { Answer, RespServer } from './server.ts';

/** Keyless commands Redis Cluster runs on each node over its own keys (guard.ts NODE_WIDE). */
const NODE_WIDE = new Set(['dbsize', 'keys', 'scan', 'randomkey', 'flushall', 'flushdb']);

/**
 * Commands of the whole cluster, run by group 0 (on every node): PUBLISH, so every node delivers
 * it; CONFIG SET, whose cluster-wide settings group 0's log holds for every node (settings.ts).
 */
const METADATA_COMMANDS = new Set(['publish', 'config|set']);

export class ShardedDispatcher implements ServedDispatcher {
  private readonly byGroup = new Map<number, NodeDispatcher>();
  private readonly shared: SharedContext = newSharedContext();
  private server: RespServer | undefined;
  private metadataDispatcher: NodeDispatcher | undefined;

  constructor(
    /** The store's groups, live: a group created later (a split) gets its dispatcher on first use. */
    private readonly groups: ReadonlyMap<number, RaftNode>,
    private readonly view: CurrentView<RaftNode>,
  ) {
    for (const id of [...groups.keys()].sort((a, b) => a - b)) this.dispatcherOf(id);
    // Made now, not on first use: it delivers the messages PUBLISH puts in group 0's log.
    this.metadataDispatcher = this.makeDispatcher(METADATA_GROUP);
    if (this.metadataDispatcher) this.metadataDispatcher.ctx.metadataOwner = () => this.metadataOwner();
  }

  /**
   * Group 0 as PUBLISH's owner. A MOVED names a slot whose data group group 0's leader also
   * leads, when there is one, so the redirect does not teach a client's slot cache a wrong owner.
   */
  private metadataOwner(): { owner: SlotOwner<RaftNode>; slot: number } {
    const node = this.groups.get(METADATA_GROUP);
    const leader = node?.leader();
    const owner: SlotOwner<RaftNode> = { group: METADATA_GROUP, local: node, leads: node?.isLeader() ?? false, leader, changing: false };
    const led = leader && this.view.shards().find((s) => s.owner?.member.id === leader.id && s.ranges.length > 0);
    return { owner, slot: led ? led.ranges[0].start : 0 };
  }

  /** The dispatcher of local data group `id`, made on first use; undefined if not hosted. */
  private dispatcherOf(id: number): NodeDispatcher | undefined {
    let d = this.byGroup.get(id);
    if (d !== undefined && this.groups.get(id) !== d.node) {
      // The group's replica here was retired (moved away) or replaced.
      d.detach();
      this.byGroup.delete(id);
      d = undefined;
    }
    if (d !== undefined || id === METADATA_GROUP) return d;
    d = this.makeDispatcher(id);
    if (d) this.byGroup.set(id, d);
    return d;
  }

  private makeDispatcher(id: number): NodeDispatcher | undefined {
    const node = this.groups.get(id);
    if (node === undefined) return undefined;
    const d = new NodeDispatcher(node, this.view, this.shared);
    if (this.server) d.attach(this.server);
    // DBSIZE, KEYS and SCAN cover every group this node leads (Redis Cluster counts a node's slots).
    d.ctx.nodeWide = () =>
      [...this.groups]
        .filter(([id, n]) => id !== METADATA_GROUP && n.isLeader())
        .map(([group, node]) => ({ group, node }))
        .sort((a, b) => a.group - b.group);
    return d;
  }

  get ctx(): NodeDispatcher['ctx'] {
    return this.fallback().ctx;
  }

  attach(server: RespServer): void {
    this.server = server;
    for (const d of this.all()) d.attach(server);
  }

  detach(): void {
    for (const d of this.all()) d.detach();
  }

  private all(): NodeDispatcher[] {
    return this.metadataDispatcher ? [...this.byGroup.values(), this.metadataDispatcher] : [...this.byGroup.values()];
  }

  dispatch(conn: ClientConn, argv: Buffer[]): Answer {
    return this.pick(conn, argv).dispatch(conn, argv);
  }

  disconnected(conn: ClientConn): void {
    for (const d of this.all()) d.disconnected(conn);
  }

  private pick(conn: ClientConn, argv: Buffer[]): NodeDispatcher {
    const cmd = resolveCommand(argv);
    if (cmd === null || (conn.multi !== null && cmd.name !== 'exec')) return this.fallback();
    if (METADATA_COMMANDS.has(cmd.name) && this.metadataDispatcher) return this.metadataDispatcher;
    let slot: number | object = KEYLESS;
    if (cmd.name === 'exec') slot = transactionSlot(this.view, conn.multi ?? [], conn.watched.keys());
    else if (cmd.keys.length > 0 || cmd.name === 'spublish' || cmd.name === 'ssubscribe' || cmd.name === 'sunsubscribe') {
      slot = argv.length > 1 ? requestSlot(this.view, cmd, argv) : KEYLESS;
    }
    if (typeof slot === 'number' && slot !== KEYLESS) {
      const group = this.view.groupOf(slot);
      return (group !== undefined && this.dispatcherOf(group)) || this.fallback();
    }
    if (NODE_WIDE.has(cmd.name)) {
      const led = this.view.localLeader();
      if (led) return this.dispatcherOf(led.group) ?? this.fallback();
    }
    return this.fallback();
  }

  /**
   * The group owning slot 0 if this node hosts it, else the lowest local data group, else (a
   * node that holds no data group yet: joining, or drained) the metadata group's, whose guard
   * still redirects every keyed command by the view.
   */
  private fallback(): NodeDispatcher {
    const g = this.view.groupOf(0);
    const found = (g !== undefined && this.dispatcherOf(g)) || this.byGroup.values().next().value;
    if (found) return found;
    this.metadataDispatcher ??= this.makeDispatcher(METADATA_GROUP)!;
    return this.metadataDispatcher;
  }
}

/** Serves RESP for every data group of `store` on cfg.host:cfg.port (see startRespServer). */
export function startShardedRespServer(
  store: Pick<NodeStore, 'cfg' | 'groups'>,
  view: CurrentView<RaftNode>,
  opts: Omit<StartRespOptions, 'view'> = {},
): Promise<RespServer> {
  return serveResp(store.cfg, new ShardedDispatcher(store.groups, view), opts);
}
