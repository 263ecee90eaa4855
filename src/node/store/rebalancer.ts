/**
 * The rebalancer (issue 13): on the metadata group's leader, on by default and rate-limited, it
 * asks the pure planner (src/shard/planner.ts) for the next change and runs it, one op per pass,
 * each first in its data group (a conf change, a split entry) and then in the slot map, logging
 * the planner's reason with it. The planner keeps no state: a move in progress is in the map (a
 * learner, a surplus voter), so a pass cut short by a fault, or a new leader of group 0, simply
 * plans again from the map.
 *
 * Group 0 is left out: every node replicates it, and membership commands change it.
 *
 * Its inputs: the live members (group 0's voters and learners this node hears from), the
 * draining set (drain.ts), and each group's load as this node sees it (entries applied per
 * second by its local replicas; a group not hosted here counts as idle).
 */
import { METADATA_GROUP, type PlannedOp, planRebalance, type ShardOp } from '../../shard/index.ts';
import type { Logger } from '../logger.ts';
import { type ChangeHost, lead, localGroup, record, splitGroup } from './changes.ts';
import { readDraining } from './drain.ts';
import { MapChangeError } from './map-record.ts';

export interface RebalanceHost extends ChangeHost {
  /** Whether this node has heard from `id` within an election timeout (itself always has). */
  alive(id: string): boolean;
  /** Runs `change` unless another change runs on this node (store.ts). */
  exclusive<T>(change: () => Promise<T>): Promise<T>;
}

/** Passes between two plans: one op every few seconds at most. */
const PASS_MS = 2000;

export class Rebalancer {
  private last = 0;
  private running = false;
  private readonly applied = new Map<number, { index: number; at: number }>();
  private load = new Map<number, number>();

  constructor(
    private readonly host: RebalanceHost,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  tick(): void {
    const t = this.now();
    this.measure(t);
    if (this.running || t - this.last < PASS_MS || !this.host.metadata.isLeader()) return;
    this.last = t;
    const map = this.host.map;
    if (!map) return;
    const g0 = this.host.metadata;
    const draining = new Set(readDraining(g0.kv, g0.now()));
    const members = [...g0.confState().voters, ...g0.confState().learners];
    const nodes = members.filter((id) => this.host.alive(id)).map((id) => ({ id, draining: draining.has(id) }));
    // Every node replicates group 0 (store.ts), so its replicas are not the planner's to move:
    // `raftkv member add|remove` changes them (the reconciler mirrors them in the map). Its
    // leader hint is the planner's, like any group's.
    const [next] = planRebalance({ map, nodes, load: this.load, pinned: [METADATA_GROUP] });
    if (!next) return;
    this.running = true;
    this.host
      .exclusive(() => this.run(next))
      .then(
        () => this.log.info({ op: next.op.type, group: next.op.group }, `rebalance: ${next.reason}`),
        (err: Error) => {
          const level = err instanceof MapChangeError ? 'info' : 'warn';
          this.log[level]({ op: next.op.type, group: next.op.group, err: err.message }, `rebalance step not done yet (${next.reason})`);
        },
      )
      .finally(() => {
        this.running = false;
      });
  }

  /** Ops/s each local group applied over the last pass. */
  private measure(t: number): void {
    for (const [id, node] of this.host.groups) {
      const prev = this.applied.get(id);
      const index = node.appliedIndex;
      if (prev && t - prev.at >= PASS_MS) {
        this.load.set(id, ((index - prev.index) * 1000) / (t - prev.at));
        this.applied.set(id, { index, at: t });
      } else if (!prev) this.applied.set(id, { index, at: t });
    }
  }

  private async run({ op }: PlannedOp): Promise<void> {
    const host = this.host;
    const body = withoutEpoch(op);
    switch (op.type) {
      case 'split':
        await splitGroup(host, op.group, op.atSlot);
        return;
      case 'setLeaderHint':
        await record(host, body, (m) => m.groups.find((g) => g.id === op.group)?.leaderHint === op.node);
        return;
      case 'createGroup':
        throw new MapChangeError('creating an empty group is not run by this rebalancer');
    }
    const node = await localGroup(host, op.group);
    await lead(host, node);
    if (op.type === 'addLearner') {
      const member = host.metadata.members.get(op.node);
      if (!member) throw new MapChangeError(`node ${op.node} has no address in the metadata group`);
      if (!node.confState().learners.includes(op.node) && !node.confState().voters.includes(op.node)) await node.addMember(member);
    } else if (op.type === 'promote') {
      // Refused while the learner is behind (its snapshot still coming): the next pass retries.
      if (!node.confState().voters.includes(op.node)) await node.promoteMember(op.node);
    } else if (op.type === 'removeReplica') {
      const conf = node.confState();
      if (conf.voters.includes(op.node) || conf.learners.includes(op.node)) await node.removeMember(op.node);
    }
    await record(host, body, (m) => {
      const g = m.groups.find((x) => x.id === op.group);
      if (!g) return false;
      if (op.type === 'addLearner') return g.learners.includes(op.node) || g.voters.includes(op.node);
      if (op.type === 'promote') return g.voters.includes(op.node);
      return !g.voters.includes(op.node) && !g.learners.includes(op.node);
    });
  }
}

function withoutEpoch(op: ShardOp) {
  const { epoch: _epoch, ...body } = op;
  return body as Parameters<typeof record>[1];
}
