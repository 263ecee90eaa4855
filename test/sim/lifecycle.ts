/**
 * A node's process and disk over a run: starting it, when each write queued on its disk becomes
 * durable, crashing it (a fault, a torn Ready, a targeted churn's trigger) and restarting it
 * from its disk. A crash bumps the node's incarnation, so events an earlier incarnation
 * scheduled (a restart, a disk completion, a Ready loop run) find it changed and do nothing.
 */
import { type NodeId, ReadOnlyOption, Role } from '../../src/raft/index.ts';
import type { SaveRequest } from '../../src/storage/memory-log.ts';
import type { Checks } from './checks.ts';
import { CrashTriggers, type Trigger } from './crash-triggers.ts';
import { GENESIS_DIGEST } from './digest.ts';
import type { EventQueue } from './event-queue.ts';
import type { SafetyMonitor } from './invariants.ts';
import type { Prng } from './prng.ts';
import { ELECTION_TICK, HEARTBEAT_TICK, type Profile, type ScheduledFault, TICK } from './schedule.ts';
import type { SimEvent } from './sim-event.ts';
import { CrashPoint, type NodeOptions, type SimNode } from './sim-node.ts';
import type { Scenarios } from './targeted.ts';
import { TraceKind as K, type TraceKind, type Tracer } from './trace.ts';

const ELECTION = ELECTION_TICK * TICK;

export interface LifecycleHost {
  readonly time: number;
  readonly healing: boolean;
  readonly profile: Profile;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly queue: EventQueue<SimEvent>;
  readonly monitor: SafetyMonitor;
  readonly tracer: Tracer;
  readonly workload: { crashed(node: SimNode): void };
  trace(kind: TraceKind, text: string): void;
}

/** What a node of the profile `p` runs with: the production Raft settings and the profile's choices. */
export function nodeOptions(p: Profile): NodeOptions {
  const settings = {
    electionTick: ELECTION_TICK,
    heartbeatTick: HEARTBEAT_TICK,
    preVote: p.preVote,
    checkQuorum: p.checkQuorum,
    readOnlyOption: p.readOnly,
    maxSizePerMsg: p.maxSizePerMsg,
    maxInflightMsgs: p.maxInflightMsgs,
  };
  return {
    settings,
    maxmemory: p.maxmemory,
    policy: p.policy,
    timeout: 2 * ELECTION,
    lease: p.readOnly === ReadOnlyOption.LeaseBased,
    logMemoryEntries: p.logMemoryEntries,
  };
}

export class Lifecycle {
  private readonly triggers = new CrashTriggers();
  /** Per node, when the last write queued on its disk completes: later ones complete after it. */
  private readonly durableAt = new Map<NodeId, number>();
  /** Per node, the commit index of its last saved hard state (a leader advancing it may trigger a crash). */
  private readonly lastCommit = new Map<NodeId, number>();

  /**
   * `nodeRng` forks each incarnation's election jitter; `diskRng` draws every write's delay;
   * `checks` hears that a node (re)started from its disk; a targeted scenario may slow a disk.
   */
  constructor(
    private readonly host: LifecycleHost,
    private readonly nodeRng: Prng,
    private readonly diskRng: Prng,
    private readonly checks: Pick<Checks, 'started'>,
    private readonly scenarios: Pick<Scenarios, 'slowDisk'>,
  ) {}

  /** Starts `node`'s next incarnation from its disk (a new node: from an empty or bootstrapped one). */
  start(node: SimNode): void {
    const h = this.host;
    const rng = this.nodeRng.fork();
    this.durableAt.delete(node.id);
    this.checks.started(node.id);
    h.monitor.started(node.id, node.disk.log);
    void node.start(
      () => rng.float(),
      (index) => h.monitor.digestAt(index) ?? GENESIS_DIGEST,
    );
  }

  crash(node: SimNode, why: string): void {
    const h = this.host;
    const lost = node.queuedWrites;
    node.crash();
    h.monitor.notLeader(node.id);
    h.trace(K.Fault, `${node.id} crashed (${why})${lost > 0 ? `, losing ${lost} queued write(s)` : ''}`);
    h.workload.crashed(node);
  }

  scheduleRestart(node: SimNode, delay: number): void {
    this.host.queue.push(this.host.time + delay, { kind: 'restart', node: node.id, incarnation: node.incarnation });
  }

  restart(node: SimNode): void {
    this.start(node);
    const log = node.disk.log;
    this.host.trace(K.Fault, `${node.id} restarted from disk (term ${log.hardState().term}, snapshot ${log.snapshotMeta().index}, last ${log.lastIndex()})`);
  }

  /** A `restart` event: the incarnation it was scheduled for is still down. */
  restartDue(ev: Extract<SimEvent, { kind: 'restart' }>): void {
    const node = this.host.nodes.get(ev.node)!;
    if (node.up || node.decommissioned || node.incarnation !== ev.incarnation) return;
    this.restart(node);
  }

  /** A `crash` event a trigger scheduled: the incarnation it struck is still up. */
  crashDue(ev: Extract<SimEvent, { kind: 'crash' }>): void {
    const node = this.host.nodes.get(ev.node)!;
    if (!node.up || this.host.healing || node.incarnation !== ev.incarnation) return;
    this.crash(node, ev.why);
    this.scheduleRestart(node, ev.downtime);
  }

  /** The node crashed at an armed crash point inside its Ready loop. */
  crashed(node: SimNode, point: CrashPoint): void {
    const downtime = node.armedDowntime;
    this.crash(node, `torn Ready (${point})`);
    this.scheduleRestart(node, downtime);
  }

  /** A write joined `node`'s disk queue: it completes after a drawn delay and after every earlier one. */
  diskIssued(node: SimNode): void {
    const h = this.host;
    // A scenario's slow disk takes at least half its delay for every write.
    const slow = this.scenarios.slowDisk(node.id);
    const delay = slow === undefined ? this.diskRng.int(1, h.profile.diskDelay) : this.diskRng.int(Math.ceil(slow / 2), slow);
    const at = Math.max(this.durableAt.get(node.id) ?? 0, h.time + delay);
    this.durableAt.set(node.id, at);
    h.queue.push(at, { kind: 'persisted', node: node.id, incarnation: node.incarnation });
  }

  /** A `persisted` event: the oldest queued write is durable, unless a crash dropped it. */
  persisted(ev: Extract<SimEvent, { kind: 'persisted' }>): void {
    const h = this.host;
    // A crash dropped every write queued by an earlier incarnation.
    const node = h.nodes.get(ev.node)!;
    if (node.incarnation !== ev.incarnation) return;
    h.tracer.mix(6, node.disk.log.lastIndex());
    node.writeDurable();
    if (h.tracer.enabled && node.up) {
      const hs = node.disk.log.hardState();
      h.trace(K.Net, `${node.id} disk durable: last ${node.disk.log.lastIndex()} commit ${hs.commit} term ${hs.term}, ${node.queuedWrites} queued`);
    }
  }

  /** `node` saves a new hard state: as leader, its commit index may have moved. */
  saving(node: SimNode, req: SaveRequest): void {
    const hs = req.hardState;
    if (!hs) return;
    if (node.role === Role.Leader && hs.commit > (this.lastCommit.get(node.id) ?? 0)) this.triggered(node, 'commit');
    this.lastCommit.set(node.id, hs.commit);
  }

  /** Arms a targeted churn fault firing now. */
  arm(sf: ScheduledFault): void {
    this.triggers.arm(sf, this.host.time);
  }

  /**
   * A targeted churn crashes `node`: after a vote or a commit once the current event is done;
   * when elected or given a proposal, within the Ready that persists it, before anything is sent.
   */
  triggered(node: SimNode, on: Trigger): void {
    const strike = this.host.healing ? undefined : this.triggers.strike(on, this.host.time);
    if (!strike) return;
    if (on === 'proposal' || on === 'elected') {
      // Half the time the disk catches up first; half the time the queued saves (a new term's
      // among them) are lost with the node, after its early messages left.
      node.armedCrash = strike.lose ? CrashPoint.BeforePersist : CrashPoint.AfterPersist;
      node.armedDowntime = strike.downtime;
      return;
    }
    this.host.queue.push(this.host.time, { kind: 'crash', node: node.id, incarnation: node.incarnation, why: strike.why, downtime: strike.downtime });
  }

  /** Healing: no trigger strikes any more. */
  disarm(): void {
    this.triggers.disarm();
  }

  /** Healing: no crash stays armed, and every node that is down restarts. */
  restartAll(nodes: Iterable<SimNode>): void {
    for (const node of nodes) {
      node.armedCrash = undefined;
      if (!node.up && !node.decommissioned) this.restart(node);
    }
  }
}
