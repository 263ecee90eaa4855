/**
 * The world of a multi-group run (issue 13): nodes hosting replicas of several Raft groups over
 * one simulated network, the event queue and its loop, and what every replica reports (through
 * hooks.ts). It is cluster.ts for many groups: what differs is that a node's replicas share its
 * fate (a crash kills every group of the node, a restart rebuilds each from its own storage on
 * the node's disk), its links (a partition cuts every group between two nodes; messages are
 * tagged by group) and its disk queue (one engine: writes become durable in issue order across
 * groups).
 *
 * The resharding operations and the slot map are reshard.ts's, the clients clients.ts's, the
 * schedule, healing and the verdict run.ts's.
 */
import type { KvEntry, KvResult } from '../../../src/kv/index.ts';
import { type ConfState, type Entry, type Message, MessageType, type NodeId, Role } from '../../../src/raft/index.ts';
import { NodeClocks } from '../clocks.ts';
import { GENESIS_DIGEST } from '../digest.ts';
import { EventQueue } from '../event-queue.ts';
import { type Invariant, InvariantViolation } from '../invariants.ts';
import { nodeOptions } from '../lifecycle.ts';
import { CALM, copyMessage, describeMessage, Network } from '../network.ts';
import { mixSeed, Prng } from '../prng.ts';
import { ELECTION_TICK, type Profile, type ScheduledFault, TICK } from '../schedule.ts';
import { SimNode } from '../sim-node.ts';
import type { Disk } from '../sim-storage.ts';
import { TraceKind as K, type TraceKind, Tracer } from '../trace.ts';
import type { GroupEvent } from './events.ts';
import { ReplicaHooks } from './hooks.ts';
import { type GroupId, GroupState, HostNode } from './replicas.ts';

const ELECTION = ELECTION_TICK * TICK;
const MSG_CODES: Record<string, number> = Object.fromEntries(Object.values(MessageType).map((t, i) => [t, i + 1]));

/** What the world tells the resharding operator and the clients about. */
export interface WorldListener {
  /** A replica applied `e` (the split entry and the ownership checks). */
  applied(group: GroupId, host: HostNode, replica: SimNode, e: Entry): void;
  /** A replica applied a KV entry with these results (the ownership checks). */
  kvApplied(group: GroupId, replica: SimNode, index: number, entry: KvEntry, results: KvResult[]): void;
  /** The configuration in force of `group` changed. */
  confChanged(group: GroupId, conf: ConfState): void;
  /** A node ticked (leaders' cleanup proposals, map records). */
  ticked(host: HostNode): void;
  /** Replicas of `node` (of `group` only, when given) lost their process. */
  crashed(node: NodeId, group?: GroupId): void;
}

export class GroupWorld {
  time = 0;
  step = 0;
  healing = false;
  readonly queue = new EventQueue<GroupEvent>();
  readonly network = new Network();
  readonly tracer: Tracer;
  readonly hosts = new Map<NodeId, HostNode>();
  readonly groups = new Map<GroupId, GroupState>();
  /** A violation found by the world's own checks (ownership, the map); ends the run after the event. */
  violation: InvariantViolation | undefined;
  listener!: WorldListener;
  private readonly clocks: NodeClocks;
  private readonly wireRng: Prng;
  private readonly nodeRng: Prng;
  private readonly diskRng: Prng;
  private readonly opRng: Prng;
  /** Per node, when the last write queued on its disk completes (one engine for all its groups). */
  private readonly durableAt = new Map<NodeId, number>();
  private starts = 0;
  private stormUntil = 0;

  constructor(
    readonly profile: Profile,
    seed: number,
    trace: boolean,
  ) {
    this.tracer = new Tracer(trace);
    this.wireRng = new Prng(mixSeed(seed, 3));
    this.nodeRng = new Prng(mixSeed(seed, 4));
    this.diskRng = new Prng(mixSeed(seed, 6));
    this.clocks = new NodeClocks(new Prng(mixSeed(seed, 7)));
    this.opRng = new Prng(mixSeed(seed, 9));
  }

  trace(kind: TraceKind, text: string): void {
    this.tracer.line(this.step, this.time, kind, text);
  }

  fail(invariant: Invariant, message: string): void {
    this.violation ??= new InvariantViolation(invariant, message);
  }

  // ---- nodes and replicas ----

  addHost(id: NodeId): HostNode {
    const host = new HostNode(id);
    this.hosts.set(id, host);
    this.clocks.add(id, this.profile.clockSkew, this.profile.drift);
    this.queue.push(this.time + this.nodeRng.int(1, TICK), { kind: 'tick', node: id });
    return host;
  }

  /** The bookkeeping of a group starting at `index` with `conf` (made once, by its first replica). */
  group(id: GroupId, conf: ConfState, index: number): GroupState {
    let g = this.groups.get(id);
    if (!g) {
      g = new GroupState(id, conf, index, (kind, text) => this.trace(kind, text));
      this.groups.set(id, g);
    }
    return g;
  }

  /** `host` hosts a replica of `group` on `disk` from now on, started at once if the node is up. */
  addReplica(host: HostNode, group: GroupId, disk: Disk): SimNode {
    const rng = this.nodeRng.fork();
    const replica = new SimNode(host.id, disk, new ReplicaHooks(this, group), nodeOptions(this.profile), () => rng.float());
    host.replicas.set(group, replica);
    if (host.up) this.startReplica(replica, group);
    return replica;
  }

  private startReplica(replica: SimNode, group: GroupId): void {
    const g = this.groups.get(group)!;
    const rng = this.nodeRng.fork();
    // Incarnations are unique over the run, so a replica dropped and made again never takes
    // an event of the old one.
    replica.incarnation = this.starts++;
    g.checks.started(replica.id);
    g.monitor.started(replica.id, replica.disk.log);
    void replica.start(
      () => rng.float(),
      (index) => g.monitor.digestAt(index) ?? GENESIS_DIGEST,
    );
  }

  /** The up replica of `group` that leads in the highest term, if any. */
  leaderOf(group: GroupId): SimNode | undefined {
    let best: SimNode | undefined;
    for (const host of this.hosts.values()) {
      const r = host.replicas.get(group);
      if (host.up && r?.up && r.role === Role.Leader && (!best || r.term > best.term)) best = r;
    }
    return best;
  }

  crashHost(host: HostNode, why: string): void {
    if (!host.up) return;
    host.up = false;
    host.life++;
    let lost = 0;
    for (const [group, r] of host.replicas) {
      lost += r.queuedWrites;
      r.crash();
      this.groups.get(group)!.monitor.notLeader(host.id);
    }
    this.trace(K.Fault, `${host.id} crashed (${why}), ${host.replicas.size} group(s)${lost > 0 ? `, losing ${lost} queued write(s)` : ''}`);
    this.listener.crashed(host.id);
  }

  restartHost(host: HostNode): void {
    host.up = true;
    this.durableAt.delete(host.id);
    for (const [group, r] of host.replicas) this.startReplica(r, group);
    this.trace(K.Fault, `${host.id} restarted from disk: ${[...host.replicas.keys()].map((g) => `g${g}`).join(' ')}`);
  }

  /** The operator drops `group`'s replica on `host` (removed from the group): its process and storage go. */
  dropReplica(host: HostNode, group: GroupId): void {
    const r = host.replicas.get(group);
    if (!r) return;
    r.crash();
    host.replicas.delete(group);
    this.groups.get(group)!.monitor.notLeader(host.id);
    this.listener.crashed(host.id, group);
    this.trace(K.Cluster, `g${group} replica on ${host.id} dropped`);
  }

  /** Nodes a client or the operator can reach. */
  reachable(): HostNode[] {
    return [...this.hosts.values()].filter((h) => h.up);
  }

  // ---- the event loop ----

  async next(): Promise<void> {
    const ev = this.queue.pop();
    if (!ev) throw new Error('event queue ran dry');
    this.time = ev.time;
    if (ev.item.kind !== 'ready') this.step++;
    this.handle(ev.item);
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const g of this.groups.values()) if (g.checks.violation) throw g.checks.violation;
    if (this.violation) throw this.violation;
    for (const g of this.groups.values()) {
      g.monitor.committedSafe(g.conf.conf.voters, (id) => this.hosts.get(id)?.replicas.get(g.id)?.disk.log);
    }
  }

  /** The handlers of the events other parts schedule (clients, faults, moves). */
  others: (ev: GroupEvent) => void = () => {};

  private handle(ev: GroupEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const host = this.hosts.get(ev.node)!;
        this.queue.push(this.time + this.clocks.tickEvery(host.id), ev);
        if (!host.up) return;
        this.tracer.mix(1, this.time);
        for (const r of host.replicas.values()) if (r.up) r.tick(this.time);
        this.listener.ticked(host);
        return;
      }
      case 'deliver':
        this.deliver(ev.group, ev.msg);
        return;
      case 'report': {
        const r = this.hosts.get(ev.node)?.replicas.get(ev.group);
        if (!r?.raw) return;
        this.tracer.mix(3, ev.what.length, ev.group);
        if (ev.what === 'unreachable') r.raw.reportUnreachable(ev.about);
        else r.raw.reportSnapshot(ev.about, ev.what === 'snap-ok');
        r.schedule();
        return;
      }
      case 'heal':
        if (ev.partition !== this.network.generation) return;
        this.network.heal();
        this.trace(K.Fault, 'partition healed');
        return;
      case 'weather-end':
        if (this.time >= this.stormUntil && !this.healing) {
          this.network.weather = this.profile.weather;
          this.trace(K.Fault, 'storm over');
        }
        return;
      case 'restart': {
        const host = this.hosts.get(ev.node)!;
        if (!host.up && host.life === ev.life) this.restartHost(host);
        return;
      }
      case 'persisted': {
        const r = this.hosts.get(ev.node)!.replicas.get(ev.group);
        if (r?.incarnation !== ev.incarnation) return;
        this.tracer.mix(6, r.disk.log.lastIndex(), ev.group);
        r.writeDurable();
        return;
      }
      case 'ready': {
        const r = this.hosts.get(ev.node)!.replicas.get(ev.group);
        if (r?.incarnation !== ev.incarnation || !r.up) return;
        this.tracer.mix(7, ev.group);
        ev.run();
        return;
      }
      case 'drop':
        this.dropDue(ev.node, ev.group);
        return;
      default:
        this.others(ev);
    }
  }

  // ---- the network: one link per node pair, every group's messages on it ----

  send(group: GroupId, messages: Message[]): void {
    for (const m of messages) {
      if (!this.hosts.has(m.to)) continue;
      this.tracer.mix(4, MSG_CODES[m.type], m.term, m.index, group);
      if (!this.network.canSend(m.from, m.to)) {
        this.report(group, m.from, m.to, m.type === MessageType.Snap ? 'snap-fail' : 'unreachable');
        continue;
      }
      const delays = this.network.delays(this.wireRng);
      if (delays.length === 0 && m.type === MessageType.Snap) this.report(group, m.from, m.to, 'snap-fail');
      for (const d of delays) this.queue.push(this.time + d, { kind: 'deliver', group, msg: copyMessage(m) });
    }
  }

  private deliver(group: GroupId, m: Message): void {
    const to = this.hosts.get(m.to)!;
    const r = to.replicas.get(group);
    this.tracer.mix(2, MSG_CODES[m.type], m.term, m.index, m.commit, m.entries.length, group);
    if (!to.up || !r?.up || !this.network.canSend(m.from, m.to)) {
      // A node that does not host the group drops the message (the transport's unhosted drop):
      // only a snapshot's sender learns it failed.
      if (m.type === MessageType.Snap) this.report(group, m.from, m.to, 'snap-fail');
      else if (r) this.report(group, m.from, m.to, 'unreachable');
      return;
    }
    if (this.tracer.enabled) this.trace(K.Net, `g${group} deliver ${describeMessage(m)}`);
    r.step(m);
    if (m.type === MessageType.Snap) this.report(group, m.from, m.to, 'snap-ok');
  }

  private report(group: GroupId, node: NodeId, about: NodeId, what: 'unreachable' | 'snap-ok' | 'snap-fail'): void {
    this.queue.push(this.time + 1, { kind: 'report', group, node, about, what });
  }

  // ---- what replicas report (ReplicaHooks) ----

  diskIssued(group: GroupId, r: SimNode): void {
    const at = Math.max(this.durableAt.get(r.id) ?? 0, this.time + this.diskRng.int(1, this.profile.diskDelay));
    this.durableAt.set(r.id, at);
    this.queue.push(at, { kind: 'persisted', node: r.id, group, incarnation: r.incarnation });
  }

  defer(group: GroupId, r: SimNode, run: () => void): void {
    this.queue.push(this.time, { kind: 'ready', node: r.id, group, incarnation: r.incarnation, run });
  }

  wall(r: SimNode): number {
    return this.clocks.wall(r.id, this.time);
  }

  mono(r: SimNode): number {
    return this.clocks.mono(r.id, this.time);
  }

  confApplied(group: GroupId, index: number, conf: ConfState): void {
    const g = this.groups.get(group)!;
    if (index <= g.conf.index) return;
    g.conf = { index, conf };
    this.trace(K.Cluster, `g${group} configuration at ${index}: voters ${conf.voters.join(',')} learners ${conf.learners.join(',') || '-'}`);
    this.listener.confChanged(group, conf);
    for (const host of this.hosts.values()) {
      if (host.replicas.has(group) && !g.member(host.id)) this.queue.push(this.time + this.opRng.int(1, 2 * ELECTION), { kind: 'drop', node: host.id, group });
    }
  }

  /**
   * Drops a removed replica once every remaining voter has applied its removal (membership.ts's
   * rule for a removed node: a voter that has not may still need its vote).
   */
  private dropDue(node: NodeId, group: GroupId): void {
    const g = this.groups.get(group)!;
    const host = this.hosts.get(node)!;
    if (!host.replicas.has(group) || g.member(node)) return;
    const pending = g.conf.conf.voters.some((v) => {
      const r = this.hosts.get(v)?.replicas.get(group);
      return !(r?.up && r.applied >= g.conf.index);
    });
    if (pending) this.queue.push(this.time + ELECTION, { kind: 'drop', node, group });
    else this.dropReplica(host, group);
  }

  settled(group: GroupId, r: SimNode): void {
    const every = this.profile.snapshotEvery;
    if (every > 0 && r.applied - r.disk.log.snapshotMeta().index >= every) this.groups.get(group)!.checks.snapshot(r, this.profile.snapshotTail);
  }

  later(delay: number, ev: GroupEvent): void {
    if (ev.kind === 'weather-end') this.stormUntil = Math.max(this.stormUntil, this.time + delay);
    this.queue.push(this.time + delay, ev);
  }

  /** Healing: every partition and storm ends, every node that is down restarts. */
  healAll(): void {
    this.healing = true;
    this.network.heal();
    this.network.weather = CALM;
    this.trace(K.Fault, 'healing everything');
    for (const host of this.hosts.values()) if (!host.up) this.restartHost(host);
  }

  /** Applies a scheduled fault that is not a resharding operation; false if it is one. */
  applyFault(sf: ScheduledFault, note: (text: string) => void): boolean {
    const f = sf.fault;
    const rng = new Prng(sf.salt);
    const up = this.reachable();
    switch (f.kind) {
      case 'partition': {
        const ids = [...this.hosts.keys()];
        const leader = this.leaderOf(rng.pick([...this.groups.keys()]));
        this.network.partition(f.shape, ids, leader?.id, rng);
        this.later(f.duration, { kind: 'heal', partition: this.network.generation });
        note(this.network.description);
        return true;
      }
      case 'crash': {
        if (up.length === 0) {
          note('nobody is up');
          return true;
        }
        const leader = this.leaderOf(rng.pick([...this.groups.keys()]));
        const victim = f.target === 'leader' && leader ? this.hosts.get(leader.id)! : rng.pick(up);
        note(victim.id);
        this.crashHost(victim, `fault #${sf.n}`);
        this.queue.push(this.time + f.downtime, { kind: 'restart', node: victim.id, life: victim.life });
        return true;
      }
      case 'snapshot': {
        const replicas = up.flatMap((h) => [...h.replicas.entries()].filter(([, r]) => r.up));
        if (replicas.length === 0) {
          note('no replica is up');
          return true;
        }
        const [group, r] = rng.pick(replicas);
        this.groups.get(group)!.checks.snapshot(r, f.tail);
        note(`g${group} on ${r.id}@${r.applied}`);
        return true;
      }
      case 'weather':
        this.network.weather = f.weather;
        this.later(f.duration, { kind: 'weather-end' });
        note('started');
        return true;
      default:
        return false;
    }
  }
}
