/**
 * Carrying out a scheduled fault. Targets ("the leader", "a voter") are resolved when the fault
 * fires, from the fault's own salt, so a fault means the same thing whatever ran before it.
 */
import { ConfChangeType, type ConfState, InvalidConfChangeError, type NodeId, ProposalDroppedError } from '../../src/raft/index.ts';
import type { Network } from './network.ts';
import { mixSeed, Prng } from './prng.ts';
import { describeFault, type Profile, type ScheduledFault } from './schedule.ts';
import { CrashPoint, type SimNode } from './sim-node.ts';
import { TraceKind as K, type TraceKind } from './trace.ts';

/** Most nodes a run may have at once (spare ids for joins). */
const MAX_NODES = 7;

export interface FaultHost {
  readonly network: Network;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly profile: Profile;
  readonly now: number;
  nextNodeNumber: number;
  trace(kind: TraceKind, text: string): void;
  reachable(): SimNode[];
  leader(): SimNode | undefined;
  crash(node: SimNode, why: string): void;
  scheduleRestart(node: SimNode, delay: number): void;
  snapshotNode(node: SimNode, tail: number): void;
  /** Arms a targeted churn (crash after granting a vote / after advancing commit). */
  armCrashTrigger(sf: ScheduledFault): void;
  addNode(id: NodeId): SimNode;
  /** Moves `node`'s wall clock by `jump` ms. */
  jumpClock(node: SimNode, jump: number): void;
  /** `node`'s event loop stops for `duration`. */
  stall(node: SimNode, duration: number): void;
  settle(node: SimNode): void;
  /** Starts a targeted scenario (targeted.ts). */
  scenario(sf: ScheduledFault): void;
  later(delay: number, ev: LaterEvent): void;
}

/** What a fault schedules for later: a heal, the end of a storm, a churn's next crash, a scenario's next step. */
export type LaterEvent =
  | { kind: 'heal'; partition: number }
  | { kind: 'weather-end' }
  | { kind: 'churn'; fault: ScheduledFault; until: number; k: number }
  | { kind: 'scenario'; fault: ScheduledFault; k: number };

export function applyFault(host: FaultHost, sf: ScheduledFault): void {
  const rng = new Prng(sf.salt);
  const f = sf.fault;
  const up = host.reachable();
  const leader = host.leader();
  const note = (text: string) => host.trace(K.Fault, `fault #${sf.n} ${describeFault(f)}: ${text}`);
  if (up.length === 0) {
    note('nobody is up');
    return;
  }
  switch (f.kind) {
    case 'partition': {
      const ids = [...host.nodes.values()].filter((n) => !n.decommissioned).map((n) => n.id);
      host.network.partition(f.shape, ids, leader?.id, rng);
      host.later(f.duration, { kind: 'heal', partition: host.network.generation });
      note(host.network.description);
      return;
    }
    case 'crash': {
      const victim = f.target === 'leader' && leader ? leader : rng.pick(up);
      if (f.torn) {
        // Anyone may die with its writes still queued.
        const early = rng.chance(0.5);
        victim.armedCrash = early ? CrashPoint.BeforePersist : CrashPoint.AfterPersist;
        victim.armedDowntime = f.downtime;
        note(`${victim.id} will crash in its next Ready (${victim.armedCrash})`);
        return;
      }
      note(victim.id);
      host.crash(victim, `fault #${sf.n}`);
      host.scheduleRestart(victim, f.downtime);
      return;
    }
    case 'churn':
      note('started');
      if (f.target !== 'leader' && f.target !== 'any') host.armCrashTrigger(sf);
      // Votes need elections: the voter churn also takes the leader down every `gap`. Proposals
      // and commits need a leader that lives long enough to take them.
      if (f.target === 'leader' || f.target === 'any' || f.target === 'voter') churn(host, sf, sf.at + f.duration, 0);
      return;
    case 'snapshot': {
      const targets = f.target === 'all' ? up : [f.target === 'leader' && leader ? leader : rng.pick(up)];
      for (const n of targets) host.snapshotNode(n, f.tail);
      note(targets.map((n) => `${n.id}@${n.applied}`).join(' '));
      return;
    }
    case 'add-member': {
      if (!leader) {
        note('no leader');
        return;
      }
      if ([...host.nodes.values()].filter((n) => !n.decommissioned).length >= MAX_NODES) {
        note('cluster is full');
        return;
      }
      const id = `n${host.nextNodeNumber}`;
      if (!propose(host, leader, { type: ConfChangeType.AddLearner, node: id }, note)) return;
      host.nextNodeNumber++;
      host.addNode(id);
      return;
    }
    case 'promote': {
      if (!leader?.raw) {
        note('no leader');
        return;
      }
      const st = leader.raw.status();
      const ready = st.conf.learners.filter((id) => (st.progress?.[id]?.match ?? 0) >= st.commit - 5);
      if (ready.length === 0) {
        note('no caught-up learner');
        return;
      }
      propose(host, leader, { type: ConfChangeType.AddVoter, node: rng.pick(ready) }, note);
      return;
    }
    case 'remove-member': {
      if (!leader?.raw) {
        note('no leader');
        return;
      }
      const conf: ConfState = leader.raw.status().conf;
      // Clusters founded with one or two voters shrink back to two, larger ones to three. Never
      // from two voters to one: the removal needs both votes to commit, and a survivor that has
      // not applied it may need the removed node's vote forever (docs/testing.md, "Bugs the
      // simulator found").
      const floor = host.profile.nodes <= 2 ? 2 : 3;
      if (conf.voters.length <= floor) {
        note(`keeping at least ${floor === 2 ? 'two voters' : 'three voters'}`);
        return;
      }
      const others = conf.voters.filter((id) => id !== leader.id);
      const victim = f.target === 'leader' ? leader.id : rng.pick(others);
      propose(host, leader, { type: ConfChangeType.RemoveNode, node: victim }, note);
      return;
    }
    case 'transfer': {
      if (!leader?.raw) {
        note('no leader');
        return;
      }
      const others = leader.raw.status().conf.voters.filter((id) => id !== leader.id);
      if (others.length === 0) {
        note('no other voter');
        return;
      }
      const to = rng.pick(others);
      note(`${leader.id} -> ${to}`);
      leader.raw.transferLeadership(to);
      host.settle(leader);
      return;
    }
    case 'weather':
      host.network.weather = f.weather;
      host.later(f.duration, { kind: 'weather-end' });
      note('started');
      return;
    case 'clock': {
      const victim = rng.pick(up);
      host.jumpClock(victim, f.jump);
      note(victim.id);
      return;
    }
    case 'stall': {
      const victim = f.target === 'leader' && leader ? leader : rng.pick(up);
      host.stall(victim, f.duration);
      note(victim.id);
      return;
    }
    case 'transfer-cut':
    case 'unsynced-term':
      host.scenario(sf);
      return;
  }
}

/** The k-th crash of a churn fault; schedules the next one until the fault's time is up. */
export function churn(host: FaultHost, sf: ScheduledFault, until: number, k: number): void {
  if (sf.fault.kind !== 'churn') return;
  const f = sf.fault;
  const rng = new Prng(mixSeed(sf.salt, k));
  const up = host.reachable();
  const leader = host.leader();
  if (up.length > 0) {
    const victim = f.target !== 'any' && leader ? leader : rng.pick(up);
    host.crash(victim, `churn #${sf.n}`);
    host.scheduleRestart(victim, rng.int(1, f.downtime));
  }
  const next = rng.int(Math.ceil(f.gap / 2), Math.ceil((3 * f.gap) / 2));
  if (host.now + next <= until) host.later(next, { kind: 'churn', fault: sf, until, k: k + 1 });
}

function propose(host: FaultHost, leader: SimNode, cc: { type: ConfChangeType; node: NodeId }, note: (text: string) => void): boolean {
  try {
    const { index, term } = leader.raw!.proposeConfChange(cc);
    note(`${cc.type} ${cc.node} proposed on ${leader.id} at index ${index} term ${term}`);
    host.settle(leader);
    return true;
  } catch (e) {
    if (!(e instanceof ProposalDroppedError || e instanceof InvalidConfChangeError)) throw e;
    note(`${cc.type} ${cc.node} refused by ${leader.id}: ${e.message}`);
    return false;
  }
}
