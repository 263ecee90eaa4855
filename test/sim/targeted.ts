/**
 * Two targeted scenarios, one for each of issue 11's holes that random faults almost never line
 * up (docs/testing.md, "Issue 11's holes"). Each is a fault of the schedule (schedule.ts draws
 * them from their own stream) that sets the stage and then watches deliveries for the moment
 * the hole would open, acting at once:
 *
 * - transfer-cut (hole 2, lease reads surviving a transfer): the leader A starts handing
 *   leadership to B; the moment A's TimeoutNow reaches B, A is cut off: every link into A (so B's
 *   vote request and the other voters' answers, which carry the new term and would depose A
 *   within a heartbeat, never arrive), or both ways. B wins with the others' votes (a transfer's
 *   vote ignores their leader stickiness) and commits writes, which clients are steered to,
 *   while clients keep reading through A within what would be its lease. A lease that survived
 *   the transfer answers them with the old values: a stale read.
 * - unsynced-term (hole 1, a single voter sending appends before its term is durable): a
 *   one-voter cluster with a learner (added first if there is none) gets a slow disk on the
 *   voter and a fast network, and the voter restarts, so it wins a new term in the very Ready
 *   that raises it, with a save that takes long. Clients write through it. If an append of the
 *   new term carrying a write reaches the learner while the voter's disk still holds the old
 *   term, the voter is crashed, losing that save; it restarts, wins the same term again and
 *   proposes something else at the same index: two entries share an (index, term). The learner
 *   is promoted afterwards, as an operator growing the cluster would.
 *
 * With the holes closed neither moment is reached as a violation: the old leader's lease ends
 * when the transfer starts, and the voter holds its messages until its term is durable, so the
 * crash never fires. The stage is still set, so the faults around it run as usual.
 */
import { type ConfState, EntryType, type Message, MessageType, NONE, type NodeId } from '../../src/raft/index.ts';
import { applyFault, type FaultHost } from './faults.ts';
import type { Weather } from './network.ts';
import { Prng } from './prng.ts';
import { describeFault, ELECTION_TICK, type ScheduledFault, TICK } from './schedule.ts';
import { TraceKind as K } from './trace.ts';
import type { Steering } from './workload.ts';

const ELECTION = ELECTION_TICK * TICK;
/** Every message arrives in one time unit: the learner hears the voter well before its slow disk does. */
const FAST: Weather = { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 1, slow: 0, longDelay: 0 };
/** How long after the cut clients read through the old leader: longer than a lease (under 90). */
const STEER_AFTER_CUT = 2 * ELECTION;
/** How long the single voter's slow disk, fast network and steered writes last. */
const UNSYNCED_WINDOW = 6 * ELECTION;
/** How many times (an election timeout apart) the scenario waits for its leader and learner. */
const ATTEMPTS = 5;
/** The last step of hole 1's scenario. */
const END = -1;

export interface ScenarioHost extends FaultHost {
  readonly conf: { conf: ConfState };
  readonly workload: { steer(s: Steering): void };
}

export class Scenarios {
  /** Hole 2: cut `from` off when its TimeoutNow reaches `to` (before `until`). */
  private cut: { sf: ScheduledFault; from: NodeId; to: NodeId; until: number } | undefined;
  /** Hole 1: crash `voter` when an append of a term its disk lacks reaches `learner` (before `until`). */
  private unsynced: { sf: ScheduledFault; voter: NodeId; learner: NodeId; until: number } | undefined;
  /** Nodes whose disk a scenario slowed: each write takes up to this long. */
  private readonly slow = new Map<NodeId, number>();

  constructor(private readonly host: ScenarioHost) {}

  /** The longest a write to `id`'s disk takes while a scenario slows it. */
  slowDisk(id: NodeId): number | undefined {
    return this.slow.get(id);
  }

  /** Healing: nothing is watched or slowed any more. */
  disarm(): void {
    this.cut = undefined;
    this.unsynced = undefined;
    this.slow.clear();
  }

  /** Runs step `k` of the scenario `sf` (step 0 when the fault fires; later ones as `scenario` events). */
  step(sf: ScheduledFault, k: number): void {
    const f = sf.fault;
    const note = (text: string) => this.host.trace(K.Fault, `fault #${sf.n} ${describeFault(f)}: ${text}`);
    if (f.kind === 'transfer-cut') this.startTransfer(sf, k, note);
    else if (f.kind === 'unsynced-term') this.unsyncedStep(sf, k, note);
  }

  /** A scenario's preconditions do not hold: try again in `delay` (at most ATTEMPTS times), else give up saying why. */
  private retry(sf: ScheduledFault, k: number, delay: number, why: string, note: (text: string) => void): void {
    if (k < ATTEMPTS) this.host.later(delay, { kind: 'scenario', fault: sf, k: k + 1 });
    else note(why);
  }

  private startTransfer(sf: ScheduledFault, k: number, note: (text: string) => void): void {
    const host = this.host;
    const leader = host.leader();
    const voters = leader?.raw?.status().conf.voters ?? [];
    const up = voters.filter((id) => id !== leader?.id && host.nodes.get(id)?.up);
    // Without the old leader the others must still make a quorum of the voters.
    const blocked = !leader?.raw
      ? 'no leader'
      : leader.raw.leadTransferee !== NONE
        ? 'a transfer is running'
        : voters.length < 3
          ? 'fewer than three voters'
          : up.length === 0
            ? 'no other voter is up'
            : undefined;
    if (blocked !== undefined || !leader?.raw) {
      // An election, a transfer or a restart may be under way: try again a little later.
      this.retry(sf, k, ELECTION / 2, blocked ?? 'no leader', note);
      return;
    }
    const to = new Prng(sf.salt).pick(up);
    this.cut = { sf, from: leader.id, to, until: host.now + ELECTION };
    host.workload.steer({ reads: leader.id, until: host.now + ELECTION + STEER_AFTER_CUT });
    note(`${leader.id} -> ${to}, cut off when its TimeoutNow arrives`);
    leader.raw.transferLeadership(to);
    host.settle(leader);
  }

  private unsyncedStep(sf: ScheduledFault, k: number, note: (text: string) => void): void {
    if (sf.fault.kind !== 'unsynced-term') return;
    const host = this.host;
    if (k === END) {
      // The disk is fast again; an operator growing the cluster promotes the learner.
      if (this.unsynced) this.slow.delete(this.unsynced.voter);
      this.unsynced = undefined;
      applyFault(host, { ...sf, fault: { kind: 'promote' } });
      return;
    }
    const { voters, learners } = host.conf.conf;
    if (voters.length !== 1) {
      note('more than one voter');
      return;
    }
    const voter = host.leader();
    if (voter?.id !== voters[0]) {
      // The voter may be down or electing itself: try again a little later.
      this.retry(sf, k, ELECTION, 'the voter does not lead', note);
      return;
    }
    const learner = learners.map((id) => host.nodes.get(id)).find((n) => n?.up && !n.decommissioned);
    if (!learner) {
      // A learner catching up first: a new node started with --join.
      const joining = learners.some((id) => !host.nodes.get(id)?.decommissioned);
      if (!joining && k < ATTEMPTS) applyFault(host, { ...sf, fault: { kind: 'add-member' } });
      this.retry(sf, k, ELECTION, 'no learner is up', note);
      return;
    }
    const until = host.now + UNSYNCED_WINDOW;
    this.slow.set(voter.id, sf.fault.diskDelay);
    host.network.weather = FAST;
    host.later(UNSYNCED_WINDOW, { kind: 'weather-end' });
    // Reads would wait for the new term's first commit, that is for the slow save: only writes.
    host.workload.steer({ writes: voter.id, writesOnly: true, until });
    this.unsynced = { sf, voter: voter.id, learner: learner.id, until };
    note(`${voter.id} restarts on a slow disk, ${learner.id} is the learner`);
    host.crash(voter, `fault #${sf.n}`);
    host.scheduleRestart(voter, sf.fault.downtime);
    host.later(UNSYNCED_WINDOW, { kind: 'scenario', fault: sf, k: END });
  }

  /** `m` was just delivered: acts if it is the moment a scenario waits for. */
  delivered(m: Message): void {
    if (this.cut && m.type === MessageType.TimeoutNow && m.from === this.cut.from && m.to === this.cut.to) this.cutOff();
    if (this.unsynced && m.type === MessageType.App && m.from === this.unsynced.voter && m.to === this.unsynced.learner) this.checkUnsynced(m);
  }

  private cutOff(): void {
    const host = this.host;
    const { sf, from, to, until } = this.cut!;
    this.cut = undefined;
    if (sf.fault.kind !== 'transfer-cut' || host.now > until) return;
    const f = sf.fault;
    const links: [NodeId, NodeId][] = [];
    for (const n of host.nodes.values()) {
      if (n.id === from || n.decommissioned) continue;
      links.push([n.id, from]);
      if (f.cut === 'isolate') links.push([from, n.id]);
    }
    host.network.cutLinks(links, `${f.cut === 'isolate' ? 'isolate' : 'deafen'} ${from} (its TimeoutNow reached ${to})`);
    host.later(f.duration, { kind: 'heal', partition: host.network.generation });
    host.workload.steer({ reads: from, writes: to, until: host.now + STEER_AFTER_CUT });
    host.trace(K.Fault, `fault #${sf.n}: ${host.network.description}`);
  }

  private checkUnsynced(m: Message): void {
    const host = this.host;
    const { sf, voter: id, learner, until } = this.unsynced!;
    const voter = host.nodes.get(id)!;
    if (host.now > until || sf.fault.kind !== 'unsynced-term') return;
    const durable = voter.disk.log.hardState().term;
    // A write of the new term (an append of that term may also carry older entries).
    const write = m.entries.some((e) => e.term > durable && e.type === EntryType.Normal && e.data.length > 0);
    if (!voter.up || !write) return;
    this.unsynced = undefined;
    this.slow.delete(id);
    host.trace(K.Fault, `fault #${sf.n}: ${learner} got a write of term ${m.term} from ${id}, whose disk is at term ${durable}`);
    host.crash(voter, `fault #${sf.n}: term ${m.term} not durable`);
    host.scheduleRestart(voter, sf.fault.downtime);
  }
}
