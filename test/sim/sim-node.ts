/**
 * One simulated server: a RawNode, its "disk" (a MemoryStorage that holds exactly what is
 * durable) and its in-memory state machine. A crash throws away the RawNode and the state
 * machine; a restart builds both again from the disk alone, as a real process would: the state
 * machine from the last snapshot, the rest by replaying committed entries.
 *
 * Two Ready loops, as a profile chooses: the serial one here (persist, send, apply, advance, one
 * Ready at a time; the core reads the disk itself), or the pipelined one (pipelined-loop.ts),
 * where the core reads a volatile image that runs ahead of the disk (disk.ts).
 */
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type MemoryStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  RawNode,
  type Ready,
  type ReadState,
  Role,
  type Snapshot,
} from '../../src/raft/index.ts';
import { imageOf, snapshotAndCompact, write } from './disk.ts';
import { PipelinedLoop } from './pipelined-loop.ts';
import { CrashPoint, EARLY, type LoopOptions, type ReadyHost } from './ready-host.ts';
import { type Command, decodeCommand, Registers } from './registers.ts';

export type NodeSettings = Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'random' | 'logger'>;

export class SimNode {
  raw: RawNode | undefined;
  sm = new Registers();
  /** The configuration as of the last applied entry (what a snapshot taken now must record). */
  conf: ConfState;
  /** What the core reads: the disk itself (serial) or the volatile image ahead of it (pipelined). */
  storage: MemoryStorage;
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
  /** The pipelined loop's state, when the node runs it. */
  private readonly pipeline: PipelinedLoop | undefined;

  constructor(
    readonly id: NodeId,
    readonly disk: MemoryStorage,
    private readonly settings: NodeSettings,
    private readonly loop: LoopOptions,
  ) {
    this.conf = disk.initialState().confState;
    this.storage = disk;
    this.pipeline = loop.pipelined ? new PipelinedLoop(this, loop.eagerResponses) : undefined;
  }

  get pipelined(): boolean {
    return this.pipeline !== undefined;
  }

  /** Pipelined: storage writes queued and not yet durable (a crash now loses them). */
  get queuedWrites(): number {
    return this.pipeline?.queuedWrites ?? 0;
  }

  get up(): boolean {
    return this.raw !== undefined;
  }

  /** (Re)starts from the disk alone. */
  start(random: () => number): void {
    const snap = this.disk.snapshot();
    this.sm = snap.data.length > 0 ? Registers.restore(snap.data) : new Registers();
    this.conf = this.disk.initialState().confState;
    this.storage = this.pipelined ? imageOf(this.disk) : this.disk;
    this.waitingReads = [];
    this.armedCrash = undefined;
    this.role = Role.Follower;
    this.term = this.disk.initialState().hardState.term;
    this.raw = new RawNode({ ...this.settings, id: this.id, storage: this.storage, applied: snap.meta.index, random });
  }

  crash(): void {
    this.raw = undefined;
    this.role = Role.Follower;
    this.waitingReads = [];
    this.armedCrash = undefined;
    this.pipeline?.reset();
  }

  /** No crash point stays armed, nor does any queued write carry one (healing). */
  disarm(): void {
    this.armedCrash = undefined;
    this.pipeline?.disarm();
  }

  /** Snapshots the state machine at its applied index and compacts all but `tail` entries. */
  snapshot(tail: number, host: Pick<ReadyHost, 'diskWrite'>): boolean {
    const index = this.sm.applied;
    if (!this.up || index <= this.disk.snapshot().meta.index) return false;
    if (this.pipeline) return this.pipeline.queueSnapshot(index, this.conf, this.sm.snapshot(), tail, host);
    snapshotAndCompact(this.disk, index, this.conf, this.sm.snapshot(), tail);
    return true;
  }

  /** Takes every Ready the core has (and the loop may take now). */
  processReadies(host: ReadyHost): void {
    if (this.pipeline) this.pipeline.run(host);
    else this.serial(host);
  }

  /** The serial loop: persist, send, apply, serve reads, advance, one Ready at a time. */
  private serial(host: ReadyHost): void {
    while (this.raw?.hasReady()) {
      const raw = this.raw;
      const rd = this.take(raw, host);
      const early = this.loop.leaderSendsFirst && this.role === Role.Leader;
      const sendNow = early ? rd.messages.filter((m) => EARLY.has(m.type)) : [];
      if (sendNow.length > 0) host.send(this, sendNow);
      if (this.armedCrash === CrashPoint.BeforePersist && early) {
        host.crashed(this, CrashPoint.BeforePersist);
        return;
      }
      this.persist(rd, this.role === Role.Leader ? this.term : undefined, host);
      if (this.armedCrash) {
        host.crashed(this, CrashPoint.AfterPersist);
        return;
      }
      const rest = sendNow.length > 0 ? rd.messages.filter((m) => !EARLY.has(m.type)) : rd.messages;
      if (rest.length > 0) host.send(this, rest);
      if (rd.snapshot) this.install(rd.snapshot, host);
      this.apply(raw, rd, host);
      raw.advance(rd);
      host.settled(this);
    }
  }

  /** The oldest write queued on the disk is durable (pipelined); see PipelinedLoop. */
  writeDurable(host: ReadyHost): void {
    this.pipeline?.writeDurable(host);
  }

  // ---- steps of handling a Ready, shared by both loops ----

  take(raw: RawNode, host: ReadyHost): Ready {
    const rd = raw.ready();
    if (rd.softState) this.role = rd.softState.role;
    if (rd.hardState) this.term = rd.hardState.term;
    host.observed(this, rd);
    return rd;
  }

  /** Serial: the Ready goes to the disk, which is also what the core reads. */
  private persist(rd: Ready, leaderTerm: number | undefined, host: ReadyHost): void {
    host.beforePersist(this, rd, leaderTerm);
    write(this.disk, rd);
    host.afterPersist(this, rd);
  }

  /** `rd` is durable: what waited for that goes out, and the core may count it. */
  finish(raw: RawNode, rd: Ready, late: Message[], host: ReadyHost): void {
    if (late.length > 0) host.send(this, late);
    raw.advance(rd);
    host.settled(this);
  }

  install(snap: Snapshot, host: ReadyHost): void {
    this.sm = Registers.restore(snap.data);
    this.conf = snap.meta.conf;
    host.snapshotInstalled(this, snap);
  }

  /** Applies the committed entries and serves the read states they make possible. */
  apply(raw: RawNode, rd: Ready, host: ReadyHost): void {
    for (const e of rd.committedEntries) this.applyEntry(raw, e, host);
    this.waitingReads.push(...rd.readStates);
    this.serveReads(host);
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
