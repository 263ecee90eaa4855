/**
 * One simulated server: a RawNode, its "disk" (a MemoryStorage that holds exactly what the
 * Ready loop persisted) and its in-memory state machine. A crash throws away the RawNode and
 * the state machine; a restart builds both again from the disk alone, as a real process would:
 * the state machine from the last snapshot, the rest by replaying committed entries.
 */
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  type RaftConfig,
  RawNode,
  type Ready,
  type ReadState,
  Role,
  type Snapshot,
} from '../../src/raft/index.ts';
import { type Command, decodeCommand, Registers } from './registers.ts';

/** How an armed crash cuts the next Ready short. */
export const CrashPoint = {
  /** Persisted, but nothing sent or applied. */
  AfterPersist: 'after-persist',
  /** A leader that sends before persisting (thesis 10.2.1) crashes between the two. */
  BeforePersist: 'before-persist',
} as const;
export type CrashPoint = (typeof CrashPoint)[keyof typeof CrashPoint];

/** What the simulation does with a node's output. */
export interface ReadyHost {
  /** Called first with every Ready (a fault may arm a crash for it). */
  observed(node: SimNode, rd: Ready): void;
  /** Called before the Ready touches the disk, with the disk as it was. */
  beforePersist(node: SimNode, rd: Ready): void;
  afterPersist(node: SimNode, rd: Ready): void;
  send(node: SimNode, messages: Message[]): void;
  snapshotInstalled(node: SimNode, snap: Snapshot): void;
  applied(node: SimNode, e: Entry, command: Command | undefined, result: boolean): void;
  confApplied(node: SimNode, e: Entry, conf: ConfState): void;
  readServed(node: SimNode, rs: ReadState): void;
  /** Called once the Ready has been advanced. */
  settled(node: SimNode): void;
  /** The node crashed at an armed crash point. */
  crashed(node: SimNode, point: CrashPoint): void;
}

export type NodeSettings = Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'random' | 'logger'>;

/** Messages a leader may send before its Ready is durable (types.ts, Ready contract step 2). */
const EARLY: ReadonlySet<Message['type']> = new Set([MessageType.App, MessageType.Heartbeat, MessageType.Snap]);

export class SimNode {
  raw: RawNode | undefined;
  sm = new Registers();
  /** The configuration as of the last applied entry (what a snapshot taken now must record). */
  conf: ConfState;
  /** Read states waiting for the state machine to catch up. */
  private waitingReads: ReadState[] = [];
  /** Set by a "torn" crash: the next Ready is cut short at this point. */
  armedCrash: CrashPoint | undefined;
  /** How long the node stays down after an armed crash. */
  armedDowntime = 0;
  /** Removed from the cluster and shut down for good. */
  decommissioned = false;
  /** Role and term as of the last Ready (cheaper than RawNode.status on every step). */
  role: Role = Role.Follower;
  term = 0;

  constructor(
    readonly id: NodeId,
    readonly disk: MemoryStorage,
    private readonly settings: NodeSettings,
    /** The leader sends App/Heartbeat/Snap before persisting, as the contract allows. */
    private readonly leaderSendsFirst: boolean,
  ) {
    this.conf = disk.initialState().confState;
  }

  get up(): boolean {
    return this.raw !== undefined;
  }

  /** (Re)starts from the disk alone. */
  start(random: () => number): void {
    const snap = this.disk.snapshot();
    this.sm = snap.data.length > 0 ? Registers.restore(snap.data) : new Registers();
    this.conf = this.disk.initialState().confState;
    this.waitingReads = [];
    this.armedCrash = undefined;
    this.role = Role.Follower;
    this.term = this.disk.initialState().hardState.term;
    this.raw = new RawNode({ ...this.settings, id: this.id, storage: this.disk, applied: snap.meta.index, random });
  }

  crash(): void {
    this.raw = undefined;
    this.role = Role.Follower;
    this.waitingReads = [];
    this.armedCrash = undefined;
  }

  /** Snapshots the state machine at its applied index and compacts all but `tail` entries. */
  snapshot(tail: number): boolean {
    const index = this.sm.applied;
    if (!this.up || index <= this.disk.snapshot().meta.index) return false;
    this.disk.createSnapshot(index, this.conf, this.sm.snapshot());
    // The disk's configuration must match the state a restart rebuilds: the snapshot's.
    this.disk.setConfState(this.conf);
    const upTo = index - tail;
    if (upTo >= this.disk.firstIndex()) this.disk.compact(upTo);
    return true;
  }

  /** Drains every Ready: persist, send, apply, serve reads, advance. */
  processReadies(host: ReadyHost): void {
    while (this.raw?.hasReady()) {
      const raw = this.raw;
      const rd = raw.ready();
      if (rd.softState) this.role = rd.softState.role;
      if (rd.hardState) this.term = rd.hardState.term;
      host.observed(this, rd);
      const early = this.leaderSendsFirst && this.role === Role.Leader;
      const sendNow = early ? rd.messages.filter((m) => EARLY.has(m.type)) : [];
      if (sendNow.length > 0) host.send(this, sendNow);
      if (this.armedCrash === CrashPoint.BeforePersist && early) {
        host.crashed(this, CrashPoint.BeforePersist);
        return;
      }
      host.beforePersist(this, rd);
      if (rd.snapshot) this.disk.applySnapshot(rd.snapshot);
      this.disk.append(rd.entries);
      if (rd.hardState) this.disk.setHardState(rd.hardState);
      host.afterPersist(this, rd);
      if (this.armedCrash) {
        host.crashed(this, CrashPoint.AfterPersist);
        return;
      }
      const rest = sendNow.length > 0 ? rd.messages.filter((m) => !EARLY.has(m.type)) : rd.messages;
      if (rest.length > 0) host.send(this, rest);
      if (rd.snapshot) {
        this.sm = Registers.restore(rd.snapshot.data);
        this.conf = rd.snapshot.meta.conf;
        host.snapshotInstalled(this, rd.snapshot);
      }
      for (const e of rd.committedEntries) this.applyEntry(raw, e, host);
      this.waitingReads.push(...rd.readStates);
      this.serveReads(host);
      raw.advance(rd);
      host.settled(this);
    }
  }

  private applyEntry(raw: RawNode, e: Entry, host: ReadyHost): void {
    let command: Command | undefined;
    if (e.type === EntryType.ConfChange) {
      this.conf = raw.applyConfChange(decodeConfChange(e.data));
    } else if (e.data.length > 0) {
      command = decodeCommand(e.data);
    }
    const result = this.sm.apply(e, command);
    host.applied(this, e, command, result);
    if (e.type === EntryType.ConfChange) host.confApplied(this, e, this.conf);
  }

  private serveReads(host: ReadyHost): void {
    if (this.waitingReads.length === 0) return;
    const ready = this.waitingReads.filter((rs) => rs.index <= this.sm.applied);
    if (ready.length === 0) return;
    this.waitingReads = this.waitingReads.filter((rs) => rs.index > this.sm.applied);
    for (const rs of ready) host.readServed(this, rs);
  }
}
