/**
 * The simulated world of one run: nodes, network, clients and the event queue, with the hooks
 * that feed every Ready, save and apply to the safety monitor and the workload. simulation.ts
 * drives it through the phases of a run. Between two events every microtask runs (the Ready
 * loop's awaits, the waiters' promises), so each event is handled to completion, in the same
 * order every time. Here are the event loop, the world's state and healing; its parts are the
 * node clocks and stalls (clocks.ts), the network hooks (wire.ts), a node's start, disk, crash
 * and restart (lifecycle.ts), the safety checks the callbacks feed (checks.ts) and the
 * membership the operator follows (membership.ts), each behind a narrow host interface.
 */
import type { KvOp } from '../../src/kv/index.ts';
import { bootstrapEntries } from '../../src/node/leadership.ts';
import { type ConfState, type Entry, type Message, type NodeId, type Ready, Role, type Snapshot } from '../../src/raft/index.ts';
import type { SaveRequest } from '../../src/storage/memory-log.ts';
import { Checks } from './checks.ts';
import { NodeClocks } from './clocks.ts';
import type { Trigger } from './crash-triggers.ts';
import { EventQueue } from './event-queue.ts';
import { applyFault, churn, type FaultHost, type LaterEvent } from './faults.ts';
import { SafetyMonitor } from './invariants.ts';
import { Lifecycle, type LifecycleHost, nodeOptions } from './lifecycle.ts';
import { awaitLiveness, type LivenessHost } from './liveness.ts';
import { Membership } from './membership.ts';
import { CALM, Network } from './network.ts';
import { mixSeed, Prng } from './prng.ts';
import type { RunOptions } from './run-options.ts';
import { describeProfile, ELECTION_TICK, makeProfile, makeSchedule, type Profile, type ScheduledFault, TICK } from './schedule.ts';
import { eventNode, type SimEvent } from './sim-event.ts';
import { type CrashPoint, type NodeHooks, SimNode } from './sim-node.ts';
import { Disk } from './sim-storage.ts';
import { Scenarios } from './targeted.ts';
import { TraceKind as K, type TraceKind, Tracer } from './trace.ts';
import { Wire, type WireHost } from './wire.ts';
import { Workload } from './workload.ts';

const ELECTION = ELECTION_TICK * TICK;

export class Cluster implements NodeHooks, FaultHost, LivenessHost, WireHost, LifecycleHost {
  readonly profile: Profile;
  readonly faults: ScheduledFault[];
  time = 0;
  step = 0;
  readonly queue = new EventQueue<SimEvent>();
  readonly network = new Network();
  readonly monitor = new SafetyMonitor();
  readonly nodes = new Map<NodeId, SimNode>();
  readonly tracer: Tracer;
  readonly workload: Workload;
  private readonly nodeRng: Prng;
  readonly genesis: ConfState;
  nextNodeNumber: number;
  healing = false;
  private stormUntil = 0;
  private readonly scenarios = new Scenarios(this);
  private readonly checks = new Checks(this);
  private readonly life: Lifecycle;
  private readonly clocks: NodeClocks;
  private readonly wire: Wire;
  private readonly membership: Membership;

  constructor(private readonly opts: RunOptions) {
    const base = makeProfile(opts.seed, opts.nodes, opts.readMode);
    this.profile = {
      ...base,
      ...(opts.calm ? { weather: CALM } : {}),
      ...(opts.clients !== undefined ? { clients: opts.clients } : {}),
      ...(opts.noAutoSnapshots ? { snapshotEvery: 0 } : {}),
      ...(opts.wholeLogInMemory ? { logMemoryEntries: Number.POSITIVE_INFINITY } : {}),
    };
    // Faults far beyond the chaos phase never fire; the horizon only bounds the list.
    this.faults = makeSchedule(opts.seed, this.profile, opts.steps * 4);
    this.tracer = new Tracer(opts.trace ?? false);
    this.wire = new Wire(this, new Prng(mixSeed(opts.seed, 3)));
    this.nodeRng = new Prng(mixSeed(opts.seed, 4));
    this.life = new Lifecycle(this, this.nodeRng, new Prng(mixSeed(opts.seed, 6)), this.checks, this.scenarios);
    this.clocks = new NodeClocks(new Prng(mixSeed(opts.seed, 7)));
    const ids = Array.from({ length: this.profile.nodes }, (_, i) => `n${i + 1}`);
    this.genesis = { voters: ids, learners: [] };
    this.membership = new Membership(this, this.genesis, this.nodeRng);
    this.nextNodeNumber = ids.length + 1;
    const { clients, keys, ttlKeys, counterKeys } = this.profile;
    this.workload = new Workload({ clients, keys, ttlKeys, counterKeys, timeout: 2 * ELECTION, think: 10 }, new Prng(mixSeed(opts.seed, 5)), {
      reachable: () => this.reachable(),
      node: (id) => this.nodes.get(id),
      later: (delay, event) => this.queue.push(this.time + delay, event),
      trace: (line) => this.trace(K.Client, line),
      proposed: (node) => this.triggered(node, 'proposal'),
      time: () => this.time,
    });
  }

  /** The configuration in force: the latest one any node applied, and its index. */
  get conf(): { index: number; conf: ConfState } {
    return this.membership.conf;
  }

  trace(kind: TraceKind, text: string): void {
    this.tracer.line(this.step, this.time, kind, text);
  }

  // ---- setup ----

  boot(): void {
    const p = this.profile;
    this.network.weather = p.weather;
    // As RaftNode.bootstrap: every founding member's disk holds the same committed conf changes.
    const members = this.genesis.voters.map((id, i) => ({ id, host: '127.0.0.1', port: 7000 + i, httpPort: 8000 + i }));
    const entries = bootstrapEntries(members);
    for (const id of this.genesis.voters) {
      const disk = Disk.fresh(entries);
      this.monitor.afterPersist(id, disk.log, { entries, hardState: disk.log.hardState() });
      this.addNode(id, disk);
    }
    for (const f of this.faults) if (!this.opts.skipFaults?.has(f.n)) this.queue.push(f.at, { kind: 'fault', fault: f });
    this.workload.start();
    this.trace(K.Cluster, `boot ${p.nodes} nodes: ${describeProfile(p)}`);
  }

  /** Creates and starts a node; without a disk, an empty one (a node started with --join). */
  addNode(id: NodeId, disk = Disk.fresh()): SimNode {
    const p = this.profile;
    const rng = this.nodeRng.fork();
    const node = new SimNode(id, disk, this, nodeOptions(p), () => rng.float());
    this.clocks.add(id, p.clockSkew, p.drift);
    this.nodes.set(id, node);
    this.life.start(node);
    this.queue.push(this.time + this.nodeRng.int(1, TICK), { kind: 'tick', node: id });
    return node;
  }

  // ---- the event loop ----

  async next(): Promise<void> {
    const ev = this.queue.pop();
    if (!ev) throw new Error('event queue ran dry');
    this.time = ev.time;
    // A deferred Ready loop run finishes handling the event that scheduled it (the old inline settle).
    if (ev.item.kind !== 'ready') this.step++;
    this.handle(ev.item);
    // Every microtask the event started runs before the next event.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.checks.violation) throw this.checks.violation;
    this.monitor.committedSafe(this.conf.conf.voters, (id) => this.nodes.get(id)?.disk.log);
  }

  private handle(ev: SimEvent): void {
    const at = eventNode(ev);
    const until = at === undefined ? undefined : this.clocks.stalled(at, this.time);
    if (until !== undefined) {
      // A stalled event loop handles this later, in order; a timer does not catch up.
      if (ev.kind === 'tick') this.queue.push(until + this.clocks.tickEvery(at!), ev);
      else this.queue.push(until, ev);
      return;
    }
    switch (ev.kind) {
      case 'tick': {
        const node = this.nodes.get(ev.node)!;
        if (node.decommissioned) return;
        this.queue.push(this.time + this.clocks.tickEvery(node.id), ev);
        if (!node.up) return;
        this.tracer.mix(1, this.time);
        node.tick(this.time);
        return;
      }
      case 'deliver':
        this.wire.deliver(ev.msg);
        return;
      case 'report': {
        const node = this.nodes.get(ev.node);
        if (!node?.raw) return;
        this.tracer.mix(3, ev.what.length);
        if (ev.what === 'unreachable') node.raw.reportUnreachable(ev.about);
        else node.raw.reportSnapshot(ev.about, ev.what === 'snap-ok');
        node.schedule();
        return;
      }
      case 'client':
        this.workload.act(ev.client);
        return;
      case 'timeout':
        this.workload.timeout(ev.op);
        return;
      case 'fault':
        if (!this.healing) applyFault(this, ev.fault);
        return;
      case 'heal':
        // A later partition replaced this one; it heals on its own schedule.
        if (ev.partition !== this.network.generation) return;
        this.network.heal();
        this.trace(K.Fault, 'partition healed');
        return;
      case 'churn':
        if (!this.healing) churn(this, ev.fault, ev.until, ev.k);
        return;
      case 'scenario':
        if (!this.healing) this.scenarios.step(ev.fault, ev.k);
        return;
      case 'weather-end':
        if (this.time >= this.stormUntil && !this.healing) {
          this.network.weather = this.profile.weather;
          this.trace(K.Fault, 'storm over');
        }
        return;
      case 'restart':
        this.life.restartDue(ev);
        return;
      case 'decommission':
        this.membership.decommission(ev.node);
        return;
      case 'crash':
        this.life.crashDue(ev);
        return;
      case 'persisted':
        this.life.persisted(ev);
        return;
      case 'ready': {
        const node = this.nodes.get(ev.node)!;
        if (node.incarnation !== ev.incarnation || !node.up) return;
        this.tracer.mix(7);
        ev.run();
        return;
      }
    }
  }

  /** Lets `node` run its Ready loop soon (after a fault touched its core). */
  settle(node: SimNode): void {
    node.schedule();
  }

  // ---- NodeHooks ----

  wall(node: SimNode): number {
    return this.clocks.wall(node.id, this.time);
  }

  mono(node: SimNode): number {
    return this.clocks.mono(node.id, this.time);
  }

  jumpClock(node: SimNode, jump: number): void {
    this.clocks.jump(node.id, jump);
  }

  stall(node: SimNode, duration: number): void {
    this.clocks.stall(node.id, this.time + duration);
  }

  defer(node: SimNode, run: () => void): void {
    this.queue.push(this.time, { kind: 'ready', node: node.id, incarnation: node.incarnation, run });
  }

  taken(node: SimNode, rd: Ready): void {
    if (rd.softState) {
      this.trace(K.Cluster, `${node.id} is ${rd.softState.role} at term ${node.term} (leader ${rd.softState.leader || 'unknown'})`);
    }
    if (rd.softState?.role === Role.Leader) this.triggered(node, 'elected');
  }

  softState(node: SimNode, role: Role): void {
    // Leadership counts from the first Ready that shows it, even if the node crashes before
    // persisting it: a leader that sends first has already spoken for its term.
    if (role === Role.Leader) this.monitor.leader(node.id, node.term, node.disk.log);
    else this.monitor.notLeader(node.id);
  }

  saving(node: SimNode, req: SaveRequest): void {
    this.life.saving(node, req);
  }

  beforeDurable(node: SimNode, req: SaveRequest, leaderTerm: number | undefined): void {
    this.checks.beforeDurable(node, req, leaderTerm);
  }

  afterDurable(node: SimNode, req: SaveRequest): void {
    this.checks.afterDurable(node, req);
  }

  applying(node: SimNode, rd: Ready): void {
    this.checks.applying(node, rd);
  }

  diskIssued(node: SimNode): void {
    this.life.diskIssued(node);
  }

  failed(node: SimNode, what: string, err: unknown): void {
    this.checks.failed(node, what, err);
  }

  dutyProposed(node: SimNode, ops: KvOp[]): void {
    this.workload.evicting(node, ops);
  }

  simTime(): number {
    return this.time;
  }

  armCrashTrigger(sf: ScheduledFault): void {
    this.life.arm(sf);
  }

  send(node: SimNode, messages: Message[]): void {
    this.wire.send(node, messages);
  }

  snapshotInstalled(node: SimNode, snap: Snapshot): void {
    this.checks.snapshotInstalled(node, snap);
  }

  applied(node: SimNode, e: Entry): void {
    this.tracer.mix(5, e.index, e.term);
    this.checks.applied(node, e);
  }

  confApplied(_node: SimNode, e: Entry, conf: ConfState): void {
    this.membership.applied(e.index, conf);
  }

  settled(node: SimNode): void {
    const every = this.profile.snapshotEvery;
    if (every > 0 && node.applied - node.disk.log.snapshotMeta().index >= every) this.snapshotNode(node, this.profile.snapshotTail);
  }

  crashed(node: SimNode, point: CrashPoint): void {
    this.life.crashed(node, point);
  }

  // ---- WireHost ----

  /** A targeted churn's trigger may strike `node` (lifecycle.ts). */
  triggered(node: SimNode, on: Trigger): void {
    this.life.triggered(node, on);
  }

  delivered(m: Message): void {
    if (!this.healing) this.scenarios.delivered(m);
  }

  // ---- FaultHost ----

  snapshotNode(node: SimNode, tail: number): void {
    this.checks.snapshot(node, tail);
  }

  crash(node: SimNode, why: string): void {
    this.life.crash(node, why);
  }

  scheduleRestart(node: SimNode, delay: number): void {
    this.life.scheduleRestart(node, delay);
  }

  get now(): number {
    return this.time;
  }

  scenario(sf: ScheduledFault): void {
    this.scenarios.step(sf, 0);
  }

  later(delay: number, ev: LaterEvent): void {
    if (ev.kind === 'weather-end') this.stormUntil = Math.max(this.stormUntil, this.time + delay);
    this.queue.push(this.time + delay, ev);
  }

  /** Nodes a client (or the operator) can reach: a stalled one does not answer. */
  reachable(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up && !n.decommissioned && this.clocks.stalled(n.id, this.time) === undefined);
  }

  /** The up node that leads in the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.up && !n.decommissioned && n.role === Role.Leader && (!best || n.term > best.term)) best = n;
    }
    return best;
  }

  /** Heals every fault and waits for the cluster to make progress again (liveness). */
  async heal(): Promise<void> {
    this.healing = true;
    this.life.disarm();
    this.scenarios.disarm();
    this.network.heal();
    this.network.weather = CALM;
    this.clocks.unstallAll();
    this.trace(K.Fault, 'healing everything');
    this.life.restartAll(this.nodes.values());
    await awaitLiveness(this);
    this.workload.close();
  }
}
