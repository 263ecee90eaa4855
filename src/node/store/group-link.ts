/**
 * One group's view of the node's shared peer transport (issue 13): what a `RaftNode` of a
 * multi-group node sends through, in place of the Transport a single-group node owns.
 *
 * Sends go through the group's endpoint (tagged with its id on the wire, heartbeats coalesced
 * with every other group's). Peers are the one thing groups must agree on: each group's
 * membership names the members it needs links to, and the transport dials the union of every
 * group's (`PeerUnion`), so a replica removed from one group does not cut a link another group
 * still uses. Closing a group's link stops hosting the group, never the transport: the store
 * closes that once every group is down.
 */
import type { Message, NodeId } from '../../raft/types.ts';
import type { GroupEndpoint, Peer, Transport } from '../../transport/index.ts';
import type { NodeLink } from '../open.ts';

/** The peers every hosted group asked for, merged into the one list the transport dials. */
export class PeerUnion {
  private readonly byGroup = new Map<number, Peer[]>();

  constructor(private readonly transport: Pick<Transport, 'setPeers'>) {}

  set(group: number, peers: Peer[]): void {
    this.byGroup.set(group, peers);
    this.push();
  }

  delete(group: number): void {
    if (this.byGroup.delete(group)) this.push();
  }

  /** Whether any hosted group lists `id` (a stranger may not dial in). */
  has(id: NodeId): boolean {
    for (const peers of this.byGroup.values()) if (peers.some((p) => p.id === id)) return true;
    return false;
  }

  private push(): void {
    const union = new Map<NodeId, Peer>();
    // A later group's address for a member wins: addresses only change by a re-added member.
    for (const peers of this.byGroup.values()) for (const p of peers) union.set(p.id, p);
    this.transport.setPeers([...union.values()]);
  }
}

export class GroupLink implements NodeLink {
  constructor(
    readonly group: number,
    private readonly endpoint: GroupEndpoint,
    private readonly transport: Transport,
    private readonly peers: PeerUnion,
  ) {}

  send(messages: Message[]): void {
    this.endpoint.send(messages);
  }

  setPeers(peers: Peer[]): void {
    this.peers.set(this.group, peers);
  }

  stats(): ReturnType<Transport['stats']> {
    return this.transport.stats();
  }

  groupStats(): ReturnType<Transport['groupStats']> {
    return this.transport.groupStats();
  }

  inboundStats(): ReturnType<Transport['inboundStats']> {
    return this.transport.inboundStats();
  }

  get clusterId(): string {
    return this.transport.clusterId;
  }

  /** The store registers the transport's routes once, for every group. */
  async registerRoutes(): Promise<void> {}

  /** Stops hosting this group; the transport stays up for the others. */
  async close(): Promise<void> {
    this.endpoint.close();
    this.peers.delete(this.group);
  }
}
