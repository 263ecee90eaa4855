/**
 * The simulated world of one run: nodes, network, clients and the event queue, with the hooks
 * that feed every Ready, save and apply to the safety monitor and the workload. simulation.ts
 * drives it through the phases of a run. Between two events every microtask runs (the Ready
 * loop's awaits, the waiters' promises), so each event is handled to completion, in the same
 * order every time.
 */
import { createHash } from 'node:crypto';
import { entryTs, type KvOp } from '../../src/kv/index.ts';
import { bootstrapEntries } from '../../src/node/leadership.ts';
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type NodeId,
  ReadOnlyOption,
  type Ready,
  Role,
  type Snapshot,
} from '../../src/raft/index.ts';
import type { SaveRequest } from '../../src/storage/memory-log.ts';
import { CrashTriggers, type Trigger } from './crash-triggers.ts';
import { GENESIS_DIGEST } from './digest.ts';
import { EventQueue } from './event-queue.ts';
import { applyFault, churn, type FaultHost, type LaterEvent } from './faults.ts';
import { Invariant, InvariantViolation, SafetyMonitor } from './invariants.ts';
import { awaitLiveness, type LivenessHost } from './liveness.ts';
import { CALM, copyMessage, describeMessage, Network } from './network.ts';
import { mixSeed, Prng } from './prng.ts';
import { describeProfile, ELECTION_TICK, HEARTBEAT_TICK, makeProfile, makeSchedule, type Profile, type ScheduledFault, TICK } from './schedule.ts';
import { CrashPoint, type NodeHooks, SimNode } from './sim-node.ts';
import { Disk } from './sim-storage.ts';
import type { RunOptions } from './simulation.ts';
import { Scenarios } from './targeted.ts';
import { TraceKind as K, type TraceKind, Tracer } from './trace.ts';
import { Workload } from './workload.ts';

/** The simulated clock's time 0 as a Unix time in ms (one time unit is a millisecond). */
export const EPOCH_MS = 1_700_000_000_000;

type SimEvent =
  | { kind: 'tick'; node: NodeId }
  | { kind: 'deliver'; msg: Message }
  | { kind: 'report'; node: NodeId; about: NodeId; what: 'unreachable' | 'snap-ok' | 'snap-fail' }
  | { kind: 'client'; client: number }
  | { kind: 'timeout'; op: number }
  | { kind: 'fault'; fault: ScheduledFault }
  | { kind: 'heal'; partition: number }
  | { kind: 'churn'; fault: ScheduledFault; until: number; k: number }
  /** The next step of a targeted scenario (targeted.ts). */
  | { kind: 'scenario'; fault: ScheduledFault; k: number }
  | { kind: 'weather-end' }
  | { kind: 'restart'; node: NodeId; incarnation: number }
  | { kind: 'decommission'; node: NodeId }
  | { kind: 'crash'; node: NodeId; incarnation: number; why: string; downtime: number }
  /** The oldest write queued on a node's disk is durable. */
  | { kind: 'persisted'; node: NodeId; incarnation: number }
  /** A node's Ready loop runs (its setImmediate). */
  | { kind: 'ready'; node: NodeId; incarnation: number; run: () => void };

const ELECTION = ELECTION_TICK * TICK;
const MSG_CODES: Record<string, number> = Object.fromEntries(Object.values(MessageType).map((t, i) => [t, i + 1]));

export class Cluster implements NodeHooks, FaultHost, LivenessHost {
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
  private readonly netRng: Prng;
  private readonly nodeRng: Prng;
  private readonly diskRng: Prng;
  /** Per node, when the last write queued on its disk completes: later ones complete after it. */
  private readonly durableAt = new Map<NodeId, number>();
  readonly genesis: ConfState;
  /** The configuration in force: the latest one any node applied, and its index. */
  conf: { index: number; conf: ConfState };
  nextNodeNumber: number;
  healing = false;
  private stormUntil = 0;
  private readonly triggers = new CrashTriggers();
  private readonly scenarios = new Scenarios(this);
  private readonly lastCommit = new Map<NodeId, number>();
  /** Every node that was ever in an applied configuration (a removed one is shut down). */
  private readonly members = new Set<NodeId>();
  /** A violation found inside a node's callbacks (which the Ready loop would swallow). */
  private violation: InvariantViolation | undefined;
  /** Each node's clock: wall = EPOCH_MS + offset + time * rate, monotonic = time * rate; ticks every TICK / rate. */
  private readonly clocks = new Map<NodeId, { offset: number; rate: number }>();
  private readonly clockRng: Prng;
  /** Nodes whose event loop is stalled, until when. */
  private readonly stalledUntil = new Map<NodeId, number>();
  /** Per node, the newest entry timestamp it applied (the timestamp rule: never backwards). */
  private readonly lastTs = new Map<NodeId, number>();

  constructor(private readonly opts: RunOptions) {
    const base = makeProfile(opts.seed, opts.nodes, opts.readMode);
    this.profile = {
      ...base,
      ...(opts.calm ? { weather: CALM } : {}),
      ...(opts.clients !== undefined ? { clients: opts.clients } : {}),
      ...(opts.noAutoSnapshots ? { snapshotEvery: 0 } : {}),
    };
    // Faults far beyond the chaos phase never fire; the horizon only bounds the list.
    this.faults = makeSchedule(opts.seed, this.profile, opts.steps * 4);
    this.tracer = new Tracer(opts.trace ?? false);
    this.netRng = new Prng(mixSeed(opts.seed, 3));
    this.nodeRng = new Prng(mixSeed(opts.seed, 4));
    this.diskRng = new Prng(mixSeed(opts.seed, 6));
    this.clockRng = new Prng(mixSeed(opts.seed, 7));
    const ids = Array.from({ length: this.profile.nodes }, (_, i) => `n${i + 1}`);
    this.genesis = { voters: ids, learners: [] };
    this.conf = { index: ids.length, conf: this.genesis };
    for (const id of ids) this.members.add(id);
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
    const settings = {
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      preVote: p.preVote,
      checkQuorum: p.checkQuorum,
      readOnlyOption: p.readOnly,
      maxSizePerMsg: p.maxSizePerMsg,
      maxInflightMsgs: p.maxInflightMsgs,
    };
    const rng = this.nodeRng.fork();
    const opts = { settings, maxmemory: p.maxmemory, policy: p.policy, timeout: 2 * ELECTION, lease: p.readOnly === ReadOnlyOption.LeaseBased };
    const node = new SimNode(id, disk, this, opts, () => rng.float());
    const skew = p.clockSkew;
    this.clocks.set(id, { offset: skew > 0 ? this.clockRng.int(-skew, skew) : 0, rate: 1 + (this.clockRng.float() * 2 - 1) * p.drift });
    this.nodes.set(id, node);
    this.startNode(node);
    this.queue.push(this.time + this.nodeRng.int(1, TICK), { kind: 'tick', node: id });
    return node;
  }

  private startNode(node: SimNode): void {
    const rng = this.nodeRng.fork();
    this.durableAt.delete(node.id);
    this.lastTs.delete(node.id);
    this.monitor.started(node.id, node.disk.log);
    void node.start(
      () => rng.float(),
      (index) => this.monitor.digestAt(index) ?? GENESIS_DIGEST,
    );
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
    if (this.violation) throw this.violation;
    this.monitor.committedSafe(this.conf.conf.voters, (id) => this.nodes.get(id)?.disk.log);
  }

  /** The node an event is handled by, if it is one whose event loop can stall. */
  private target(ev: SimEvent): NodeId | undefined {
    switch (ev.kind) {
      case 'tick':
      case 'report':
      case 'persisted':
      case 'ready':
        return ev.node;
      case 'deliver':
        return ev.msg.to;
      default:
        return undefined;
    }
  }

  private handle(ev: SimEvent): void {
    const at = this.target(ev);
    const until = at === undefined ? undefined : this.stalledUntil.get(at);
    if (until !== undefined && until > this.time) {
      // A stalled event loop handles this later, in order; a timer does not catch up.
      if (ev.kind === 'tick') this.queue.push(until + this.tickEvery(at!), ev);
      else this.queue.push(until, ev);
      return;
    }
    switch (ev.kind) {
      case 'tick': {
        const node = this.nodes.get(ev.node)!;
        if (node.decommissioned) return;
        this.queue.push(this.time + this.tickEvery(node.id), ev);
        if (!node.up) return;
        this.tracer.mix(1, this.time);
        node.tick(this.time);
        return;
      }
      case 'deliver':
        this.deliver(ev.msg);
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
      case 'restart': {
        const node = this.nodes.get(ev.node)!;
        if (node.up || node.decommissioned || node.incarnation !== ev.incarnation) return;
        this.restart(node);
        return;
      }
      case 'decommission':
        this.decommission(ev.node);
        return;
      case 'crash': {
        const node = this.nodes.get(ev.node)!;
        if (!node.up || this.healing || node.incarnation !== ev.incarnation) return;
        this.crash(node, ev.why);
        this.scheduleRestart(node, ev.downtime);
        return;
      }
      case 'persisted': {
        // A crash dropped every write queued by an earlier incarnation.
        const node = this.nodes.get(ev.node)!;
        if (node.incarnation !== ev.incarnation) return;
        this.tracer.mix(6, node.disk.log.lastIndex());
        node.writeDurable();
        if (this.tracer.enabled && node.up) {
          const hs = node.disk.log.hardState();
          this.trace(K.Net, `${node.id} disk durable: last ${node.disk.log.lastIndex()} commit ${hs.commit} term ${hs.term}, ${node.queuedWrites} queued`);
        }
        return;
      }
      case 'ready': {
        const node = this.nodes.get(ev.node)!;
        if (node.incarnation !== ev.incarnation || !node.up) return;
        this.tracer.mix(7);
        ev.run();
        return;
      }
    }
  }

  private deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    this.tracer.mix(2, MSG_CODES[m.type], m.term, m.index, m.commit, m.entries.length);
    if (!to?.up || to.decommissioned || from?.decommissioned || !this.network.canSend(m.from, m.to)) {
      if (m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-fail');
      else if (to && !to.decommissioned) this.report(m.from, m.to, 'unreachable');
      return;
    }
    if (this.tracer.enabled) this.trace(K.Net, `deliver ${describeMessage(m)}`);
    to.step(m);
    if (m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-ok');
    if (!this.healing) this.scenarios.delivered(m);
  }

  private report(node: NodeId, about: NodeId, what: 'unreachable' | 'snap-ok' | 'snap-fail'): void {
    this.queue.push(this.time + 1, { kind: 'report', node, about, what });
  }

  /** Lets `node` run its Ready loop soon (after a fault touched its core). */
  settle(node: SimNode): void {
    node.schedule();
  }

  // ---- NodeHooks ----

  wall(node: SimNode): number {
    const c = this.clocks.get(node.id)!;
    return Math.floor(EPOCH_MS + c.offset + this.time * c.rate);
  }

  mono(node: SimNode): number {
    return this.time * this.clocks.get(node.id)!.rate;
  }

  /** Time units between two ticks of `id`: TICK on its own clock. */
  private tickEvery(id: NodeId): number {
    return TICK / this.clocks.get(id)!.rate;
  }

  jumpClock(node: SimNode, jump: number): void {
    this.clocks.get(node.id)!.offset += jump;
  }

  stall(node: SimNode, duration: number): void {
    this.stalledUntil.set(node.id, Math.max(this.stalledUntil.get(node.id) ?? 0, this.time + duration));
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
    const hs = req.hardState;
    if (!hs) return;
    if (node.role === Role.Leader && hs.commit > (this.lastCommit.get(node.id) ?? 0)) this.triggered(node, 'commit');
    this.lastCommit.set(node.id, hs.commit);
  }

  beforeDurable(node: SimNode, req: SaveRequest, leaderTerm: number | undefined): void {
    this.guard(() => this.monitor.beforePersist(node.id, node.disk.log, req, leaderTerm));
  }

  afterDurable(node: SimNode, req: SaveRequest): void {
    this.guard(() => this.monitor.afterPersist(node.id, node.disk.log, req));
  }

  applying(node: SimNode, rd: Ready): void {
    this.guard(() => {
      for (const e of rd.committedEntries) this.monitor.claimCommitted(node.id, e.index, e.term, node.term);
    });
  }

  diskIssued(node: SimNode): void {
    // A scenario's slow disk takes at least half its delay for every write.
    const slow = this.scenarios.slowDisk(node.id);
    const delay = slow === undefined ? this.diskRng.int(1, this.profile.diskDelay) : this.diskRng.int(Math.ceil(slow / 2), slow);
    const at = Math.max(this.durableAt.get(node.id) ?? 0, this.time + delay);
    this.durableAt.set(node.id, at);
    this.queue.push(at, { kind: 'persisted', node: node.id, incarnation: node.incarnation });
  }

  /** Runs a monitor check from inside a node's callbacks: the first violation ends the run after this event. */
  private guard(check: () => void): void {
    if (this.violation) return;
    try {
      check();
    } catch (e) {
      if (!(e instanceof InvariantViolation)) throw e;
      this.violation = e;
    }
  }

  failed(node: SimNode, what: string, err: unknown): void {
    if (this.violation) return;
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.violation = new InvariantViolation(Invariant.CoreError, `${node.id}: ${what}: ${detail}`);
  }

  dutyProposed(node: SimNode, ops: KvOp[]): void {
    this.workload.evicting(node, ops);
  }

  simTime(): number {
    return this.time;
  }

  armCrashTrigger(sf: ScheduledFault): void {
    this.triggers.arm(sf, this.time);
  }

  /**
   * A targeted churn crashes `node`: after a vote or a commit once the current event is done;
   * when elected or given a proposal, within the Ready that persists it, before anything is sent.
   */
  private triggered(node: SimNode, on: Trigger): void {
    const strike = this.healing ? undefined : this.triggers.strike(on, this.time);
    if (!strike) return;
    if (on === 'proposal' || on === 'elected') {
      // Half the time the disk catches up first; half the time the queued saves (a new term's
      // among them) are lost with the node, after its early messages left.
      node.armedCrash = strike.lose ? CrashPoint.BeforePersist : CrashPoint.AfterPersist;
      node.armedDowntime = strike.downtime;
      return;
    }
    this.queue.push(this.time, { kind: 'crash', node: node.id, incarnation: node.incarnation, why: strike.why, downtime: strike.downtime });
  }

  send(node: SimNode, messages: Message[]): void {
    for (const m of messages) {
      if (!this.nodes.has(m.to)) continue;
      this.tracer.mix(4, MSG_CODES[m.type], m.term, m.index);
      if (!this.network.canSend(m.from, m.to)) {
        if (m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-fail');
        else this.report(m.from, m.to, 'unreachable');
        continue;
      }
      if (m.type === MessageType.VoteResp && !m.reject) this.triggered(node, 'vote');
      if (m.type === MessageType.App && m.entries.length > 0 && node.queuedWrites > 0) this.triggered(node, 'sent');
      const delays = this.network.delays(this.netRng);
      if (delays.length === 0 && m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-fail');
      for (const d of delays) this.queue.push(this.time + d, { kind: 'deliver', msg: copyMessage(m) });
    }
  }

  snapshotInstalled(node: SimNode, snap: Snapshot): void {
    this.trace(K.Cluster, `${node.id} installed snapshot at ${snap.meta.index} (term ${snap.meta.term})`);
    const digest = this.monitor.digestAt(snap.meta.index);
    if (digest === undefined) {
      this.failed(node, 'installed a snapshot', new Error(`no replica applied index ${snap.meta.index} yet`));
      return;
    }
    node.setDigest(digest);
    this.lastTs.delete(node.id);
    this.guard(() => this.monitor.restored(node.id, snap, digest));
  }

  applied(node: SimNode, e: Entry): void {
    this.tracer.mix(5, e.index, e.term);
    this.guard(() => this.monitor.applied(node.id, e, node.digest));
    if (e.type !== EntryType.Normal || e.data.length === 0) return;
    const ts = entryTs(e.data) ?? 0;
    const last = this.lastTs.get(node.id) ?? node.kv?.highTs ?? 0;
    if (ts < last) {
      this.guard(() => {
        throw new InvariantViolation(Invariant.Timestamps, `${node.id} applied entry ${e.index} stamped ${ts}, after one stamped ${last}`);
      });
    }
    this.lastTs.set(node.id, Math.max(ts, last));
  }

  confApplied(_node: SimNode, e: Entry, conf: ConfState): void {
    if (e.index <= this.conf.index) return;
    this.conf = { index: e.index, conf };
    this.trace(K.Cluster, `configuration at ${e.index}: voters ${conf.voters.join(',')} learners ${conf.learners.join(',') || '-'}`);
    for (const id of [...conf.voters, ...conf.learners]) this.members.add(id);
    for (const [id, n] of this.nodes) {
      const member = conf.voters.includes(id) || conf.learners.includes(id);
      if (!member && this.members.has(id) && !n.decommissioned) {
        // The operator shuts a removed member down a little later (it may still be stepping down).
        this.queue.push(this.time + this.nodeRng.int(1, 2 * ELECTION), { kind: 'decommission', node: id });
      }
    }
  }

  settled(node: SimNode): void {
    const every = this.profile.snapshotEvery;
    if (every > 0 && node.applied - node.disk.log.snapshotMeta().index >= every) this.snapshotNode(node, this.profile.snapshotTail);
  }

  crashed(node: SimNode, point: CrashPoint): void {
    const downtime = node.armedDowntime;
    this.crash(node, `torn Ready (${point})`);
    this.scheduleRestart(node, downtime);
  }

  // ---- FaultHost ----

  snapshotNode(node: SimNode, tail: number): void {
    node.snapshot(tail, (index, digest, data) => {
      const image = createHash('sha1').update(data).digest().readUInt32LE(0);
      this.guard(() => this.monitor.snapshotTaken(node.id, index, digest, image));
    });
  }

  crash(node: SimNode, why: string): void {
    const lost = node.queuedWrites;
    node.crash();
    this.monitor.notLeader(node.id);
    this.trace(K.Fault, `${node.id} crashed (${why})${lost > 0 ? `, losing ${lost} queued write(s)` : ''}`);
    this.workload.crashed(node);
  }

  scheduleRestart(node: SimNode, delay: number): void {
    this.queue.push(this.time + delay, { kind: 'restart', node: node.id, incarnation: node.incarnation });
  }

  private restart(node: SimNode): void {
    this.startNode(node);
    const log = node.disk.log;
    this.trace(K.Fault, `${node.id} restarted from disk (term ${log.hardState().term}, snapshot ${log.snapshotMeta().index}, last ${log.lastIndex()})`);
  }

  private decommission(id: NodeId): void {
    const node = this.nodes.get(id)!;
    const conf = this.conf.conf;
    if (node.decommissioned || conf.voters.includes(id) || conf.learners.includes(id)) return;
    // The operator waits until every remaining voter has applied the removal: a voter that has
    // not may never learn it committed (its commit index is not fsynced), and would need the
    // removed node's vote forever (docs/testing.md, "Bugs the simulator found").
    if (conf.voters.some((v) => !(this.nodes.get(v)?.up && this.nodes.get(v)!.applied >= this.conf.index))) {
      this.queue.push(this.time + ELECTION, { kind: 'decommission', node: id });
      return;
    }
    if (node.up) this.crash(node, 'removed from the cluster');
    node.decommissioned = true;
    this.trace(K.Cluster, `${id} decommissioned`);
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
    return [...this.nodes.values()].filter((n) => n.up && !n.decommissioned && !((this.stalledUntil.get(n.id) ?? 0) > this.time));
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
    this.triggers.disarm();
    this.scenarios.disarm();
    this.network.heal();
    this.network.weather = CALM;
    this.stalledUntil.clear();
    this.trace(K.Fault, 'healing everything');
    for (const node of this.nodes.values()) {
      node.armedCrash = undefined;
      if (!node.up && !node.decommissioned) this.restart(node);
    }
    await awaitLiveness(this);
    this.workload.close();
  }
}
