/**
 * Raft groups on a peer link (issue 13, the mux layer): the group id every message carries on
 * the wire, and the per-group endpoint a node's groups send and receive through.
 *
 * One link per node pair carries the traffic of every group the two nodes share. A group is
 * *hosted* here once the node asked for its endpoint (`Transport.group`); a message for any
 * other group is counted and dropped on arrival, so a peer (or a stale map) can never make this
 * node create or wake a group. Group 1 is today's single group: a Transport given `onMessage`
 * hosts it from the start, and `Transport.send` / `onUnreachable` / `onSnapshotStatus` are its
 * endpoint's, so a single-group node uses the transport exactly as before.
 *
 *   const g = transport.group(7, { onMessage: (m) => node7.step(m) });
 *   g.onUnreachable = (peer) => node7.reportUnreachable(peer);
 *   g.onSnapshotStatus = (peer, ok) => node7.reportSnapshot(peer, ok);
 *   g.send(ready.messages);   // queued per peer, batched per turn, heartbeats coalesced
 *   g.close();                // no longer hosted: its messages are dropped and counted
 */
import type { Message, NodeId } from '../raft/types.ts';

/** A Raft group's number: a uint32, a varint on the wire (one byte below 128). */
export type GroupId = number;

export const GroupIds = {
  /** The metadata group (the slot map); exists only on a sharded cluster. */
  Metadata: 0,
  /** Today's single group; data groups are numbered from 1. */
  Default: 1,
  Max: 0xffff_ffff,
} as const;

export function isGroupId(n: number): n is GroupId {
  return Number.isInteger(n) && n >= 0 && n <= GroupIds.Max;
}

export interface GroupHandlers {
  /** A message for this group from an authenticated member (its `from` is that member). */
  onMessage: (m: Message) => void;
}

/** What an endpoint needs from its transport. */
export interface EndpointHost {
  sendGroup(group: GroupId, messages: Message[]): void;
  release(endpoint: GroupEndpoint): void;
}

/** One group's view of the transport: today's send/receive API, scoped to the group. */
export class GroupEndpoint {
  /** A message of this group to `id` was dropped (link down or saturated, unknown peer), or the link to `id` fell. */
  onUnreachable?: (id: NodeId) => void;
  /** A Snap message of this group to `id` was completely written (true) or lost (false). */
  onSnapshotStatus?: (id: NodeId, ok: boolean) => void;
  private open = true;

  constructor(
    readonly id: GroupId,
    readonly handlers: GroupHandlers,
    private readonly host: EndpointHost,
  ) {}

  get hosted(): boolean {
    return this.open;
  }

  /**
   * Queues messages to their peers and returns at once (as Transport.send, whose rules apply:
   * drops are counted and reported after the call, messages must not be mutated afterwards).
   */
  send(messages: Message[]): void {
    if (this.open) this.host.sendGroup(this.id, messages);
  }

  /** Stops hosting the group: later sends are ignored, arriving messages dropped and counted. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.host.release(this);
  }
}

export class GroupConfigError extends Error {
  override name = 'GroupConfigError';
}

/** Distinct unhosted groups logged at debug before further ones are only counted. */
const MAX_UNHOSTED_LOGGED = 64;

/**
 * The groups a transport hosts, and what arrives for the others. Delivery is a map lookup;
 * nothing a peer sends can add an entry (only `open` does, called by this node's own code).
 */
export class GroupTable {
  private readonly endpoints = new Map<GroupId, GroupEndpoint>();
  private unhostedCount = 0;
  private readonly unhostedLogged = new Set<GroupId>();

  constructor(
    private readonly host: Omit<EndpointHost, 'release'>,
    private readonly log: { debug(obj: object, msg: string): void },
  ) {}

  /** Hosts `id` from now on; throws GroupConfigError for an invalid id or one already hosted. */
  open(id: GroupId, handlers: GroupHandlers): GroupEndpoint {
    if (!isGroupId(id)) throw new GroupConfigError(`group must be an integer in 0..${GroupIds.Max}, got ${id}`);
    if (this.endpoints.has(id)) throw new GroupConfigError(`group ${id} is already hosted on this transport`);
    const ep = new GroupEndpoint(id, handlers, {
      sendGroup: (g, ms) => this.host.sendGroup(g, ms),
      release: (e) => {
        if (this.endpoints.get(e.id) === e) this.endpoints.delete(e.id);
      },
    });
    this.endpoints.set(id, ep);
    return ep;
  }

  get(id: GroupId): GroupEndpoint | undefined {
    return this.endpoints.get(id);
  }

  hosts(id: GroupId): boolean {
    return this.endpoints.has(id);
  }

  get size(): number {
    return this.endpoints.size;
  }

  /** Messages (and snapshot transfers) dropped because their group is not hosted here. */
  get unhosted(): number {
    return this.unhostedCount;
  }

  deliver(id: GroupId, m: Message): void {
    this.endpoints.get(id)?.handlers.onMessage(m);
  }

  /**
   * Counts a message for a group not hosted here. Normal for a moment around a replica move or
   * a split (the peer's map is ahead of or behind this node's), so debug, once per group.
   */
  dropUnhosted(id: GroupId, from: NodeId): void {
    this.unhostedCount++;
    if (this.unhostedLogged.has(id) || this.unhostedLogged.size >= MAX_UNHOSTED_LOGGED) return;
    this.unhostedLogged.add(id);
    this.log.debug({ group: id, peer: from }, 'message for a group this node does not host dropped');
  }

  /** The link to `peer` fell: every group is told, as each may have had messages on it. */
  linkFell(peer: NodeId): void {
    for (const ep of this.endpoints.values()) ep.onUnreachable?.(peer);
  }

  unreachable(id: GroupId, peer: NodeId): void {
    this.endpoints.get(id)?.onUnreachable?.(peer);
  }

  snapshotStatus(id: GroupId, peer: NodeId, ok: boolean): void {
    this.endpoints.get(id)?.onSnapshotStatus?.(peer, ok);
  }
}
