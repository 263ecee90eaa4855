/**
 * Membership as the operator sees it: the configuration in force (the latest one any node
 * applied), every node that was ever a member, and shutting a removed member down, a little
 * later and only once every remaining voter has applied its removal.
 */
import type { ConfState, NodeId } from '../../src/raft/index.ts';
import type { EventQueue } from './event-queue.ts';
import type { Prng } from './prng.ts';
import { ELECTION_TICK, TICK } from './schedule.ts';
import type { SimEvent } from './sim-event.ts';
import type { SimNode } from './sim-node.ts';
import { TraceKind as K, type TraceKind } from './trace.ts';

const ELECTION = ELECTION_TICK * TICK;

export interface MembershipHost {
  readonly time: number;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly queue: EventQueue<SimEvent>;
  trace(kind: TraceKind, text: string): void;
  crash(node: SimNode, why: string): void;
}

export class Membership {
  /** The configuration in force: the latest one any node applied, and its index. */
  conf: { index: number; conf: ConfState };
  /** Every node that was ever in an applied configuration (a removed one is shut down). */
  private readonly members = new Set<NodeId>();

  /** `rng` draws how long the operator takes to shut a removed member down. */
  constructor(
    private readonly host: MembershipHost,
    genesis: ConfState,
    private readonly rng: Prng,
  ) {
    this.conf = { index: genesis.voters.length, conf: genesis };
    for (const id of genesis.voters) this.members.add(id);
  }

  /** A node applied the configuration change at `index`. */
  applied(index: number, conf: ConfState): void {
    const h = this.host;
    if (index <= this.conf.index) return;
    this.conf = { index, conf };
    h.trace(K.Cluster, `configuration at ${index}: voters ${conf.voters.join(',')} learners ${conf.learners.join(',') || '-'}`);
    for (const id of [...conf.voters, ...conf.learners]) this.members.add(id);
    for (const [id, n] of h.nodes) {
      const member = conf.voters.includes(id) || conf.learners.includes(id);
      if (!member && this.members.has(id) && !n.decommissioned) {
        // The operator shuts a removed member down a little later (it may still be stepping down).
        h.queue.push(h.time + this.rng.int(1, 2 * ELECTION), { kind: 'decommission', node: id });
      }
    }
  }

  /** The operator shuts `id` down, if it is still out of the configuration and that is safe. */
  decommission(id: NodeId): void {
    const h = this.host;
    const node = h.nodes.get(id)!;
    const conf = this.conf.conf;
    if (node.decommissioned || conf.voters.includes(id) || conf.learners.includes(id)) return;
    // The operator waits until every remaining voter has applied the removal: a voter that has
    // not may never learn it committed (its commit index is not fsynced), and would need the
    // removed node's vote forever (docs/testing.md, "Bugs the simulator found").
    if (conf.voters.some((v) => !(h.nodes.get(v)?.up && h.nodes.get(v)!.applied >= this.conf.index))) {
      h.queue.push(h.time + ELECTION, { kind: 'decommission', node: id });
      return;
    }
    if (node.up) h.crash(node, 'removed from the cluster');
    node.decommissioned = true;
    h.trace(K.Cluster, `${id} decommissioned`);
  }
}
