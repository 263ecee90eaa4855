/**
 * One replica's NodeHooks in a multi-group run: what its sim-node units report goes to the
 * world (world.ts) and to its group's monitor and checks, tagged with its group.
 */
import type { KvEntry, KvOp, KvResult } from '../../../src/kv/index.ts';
import { type ConfState, type Entry, type Message, type Ready, Role, type Snapshot } from '../../../src/raft/index.ts';
import type { SaveRequest } from '../../../src/storage/memory-log.ts';
import type { NodeHooks, SimNode } from '../sim-node.ts';
import { TraceKind as K } from '../trace.ts';
import type { GroupId, GroupState } from './replicas.ts';
import type { GroupWorld } from './world.ts';

/** One replica's NodeHooks: the world's, for its group. */
export class ReplicaHooks implements NodeHooks {
  constructor(
    private readonly w: GroupWorld,
    private readonly group: GroupId,
  ) {}

  private get g(): GroupState {
    return this.w.groups.get(this.group)!;
  }

  simTime(): number {
    return this.w.time;
  }
  wall(r: SimNode): number {
    return this.w.wall(r);
  }
  mono(r: SimNode): number {
    return this.w.mono(r);
  }
  defer(r: SimNode, fn: () => void): void {
    this.w.defer(this.group, r, fn);
  }
  send(_r: SimNode, messages: Message[]): void {
    this.w.send(this.group, messages);
  }
  diskIssued(r: SimNode): void {
    this.w.diskIssued(this.group, r);
  }
  beforeDurable(r: SimNode, req: SaveRequest, leaderTerm: number | undefined): void {
    this.g.checks.beforeDurable(r, req, leaderTerm);
  }
  afterDurable(r: SimNode, req: SaveRequest): void {
    this.g.checks.afterDurable(r, req);
  }
  taken(r: SimNode, rd: Ready): void {
    if (rd.softState) this.w.trace(K.Cluster, `g${this.group} ${r.id} is ${rd.softState.role} at term ${r.term} (leader ${rd.softState.leader || 'unknown'})`);
  }
  softState(r: SimNode, role: Role): void {
    const g = this.g;
    if (role === Role.Leader) g.checks.guard(() => g.monitor.leader(r.id, r.term, r.disk.log));
    else g.monitor.notLeader(r.id);
  }
  saving(): void {}
  applying(r: SimNode, rd: Ready): void {
    this.g.checks.applying(r, rd);
  }
  applied(r: SimNode, e: Entry): void {
    this.w.tracer.mix(5, e.index, e.term, this.group);
    this.g.checks.applied(r, e);
    this.w.listener.applied(this.group, this.w.hosts.get(r.id)!, r, e);
  }
  kvApplied(r: SimNode, index: number, entry: KvEntry, results: KvResult[]): void {
    this.w.listener.kvApplied(this.group, r, index, entry, results);
  }
  confApplied(_r: SimNode, e: Entry, conf: ConfState): void {
    this.w.confApplied(this.group, e.index, conf);
  }
  snapshotInstalled(r: SimNode, snap: Snapshot): void {
    this.g.checks.snapshotInstalled(r, snap);
  }
  settled(r: SimNode): void {
    this.w.settled(this.group, r);
  }
  dutyProposed(_r: SimNode, _ops: KvOp[]): void {}
  crashed(): void {}
  failed(r: SimNode, what: string, err: unknown): void {
    this.g.checks.failed(r, `g${this.group} ${what}`, err);
  }
}
