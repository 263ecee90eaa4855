/**
 * One simulated server: a RawNode, its "disk" (a MemoryStorage that holds exactly what is
 * durable) and its in-memory state machine. A crash throws away the RawNode and the state
 * machine; a restart builds both again from the disk alone, as a real process would: the state
 * machine from the last snapshot, the rest by replaying committed entries.
 *
 * Two Ready loops, as a profile chooses:
 * - serial: persist, send, apply, advance, one Ready at a time; the core reads the disk itself.
 * - pipelined (src/node/ready-loop.ts, etcd's asynchronous storage writes): each Ready's
 *   messages go out (a leader's App/Heartbeat/Snap at once, the rest once durable; see
 *   AFTER_APPEND for a Ready that writes nothing), its committed entries are applied at once,
 *   and its save joins a FIFO that the cluster completes after seeded delays, strictly in
 *   order; the next Ready is taken without waiting.
 *
 * Pipelined, the core reads a second MemoryStorage, the volatile image: LevelStorage updates its
 * in-memory log when save() is called and readers see it at once, while durability lags. The
 * disk gets each write only when its completion fires, and a crash drops the image together
 * with every write still queued, so a restart sees exactly what was durable. Keeping the two
 * apart is what lets the monitor judge durability honestly: its checks (and committedSafe
 * after every step) look at the disk, never at the image.
 */
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  MemoryStorage,
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
  /**
   * Persisted, but nothing sent. Serial: nothing applied either. Pipelined: the disk catches up
   * at once (a fast disk, a slow transport): every queued write up to this Ready's becomes
   * durable, and the node dies before any of this Ready's messages leave or it advances.
   */
  AfterPersist: 'after-persist',
  /**
   * Serial: a leader that sends before persisting (thesis 10.2.1) crashes between the two.
   * Pipelined: any node dies right after taking the Ready (its early messages sent, its
   * committed entries applied), with its save and every earlier one still queued.
   */
  BeforePersist: 'before-persist',
} as const;
export type CrashPoint = (typeof CrashPoint)[keyof typeof CrashPoint];

/** What the simulation does with a node's output. */
export interface ReadyHost {
  /** Called first with every Ready (a fault may arm a crash for it). */
  observed(node: SimNode, rd: Ready): void;
  /**
   * Called before the Ready touches the disk, with the disk as it was; `leaderTerm` is the term
   * the node led when it took the Ready, if it did.
   */
  beforePersist(node: SimNode, rd: Ready, leaderTerm: number | undefined): void;
  afterPersist(node: SimNode, rd: Ready): void;
  /** Pipelined: the node applies `rd`'s committed entries before `rd`'s hard state is durable. */
  applying(node: SimNode, rd: Ready): void;
  /** Pipelined: a write joined the node's disk queue; its completion must come, in order. */
  diskWrite(node: SimNode): void;
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

/**
 * Answers that vote in an election or acknowledge an append (etcd's msgsAfterAppend): each
 * promises that what the core holds in memory is durable. The core gives them from its whole
 * log and hard state, including what earlier Readies have not made durable yet, so even in a
 * Ready that writes nothing they must wait for every save queued before it.
 */
const AFTER_APPEND: ReadonlySet<Message['type']> = new Set([MessageType.AppResp, MessageType.VoteResp, MessageType.PreVoteResp]);

/** Which Ready loop a node runs. */
export interface LoopOptions {
  /** The pipelined loop (asynchronous storage writes) instead of the serial one. */
  pipelined: boolean;
  /** Serial loop: the leader sends App/Heartbeat/Snap before persisting, as the contract allows. */
  leaderSendsFirst: boolean;
  /**
   * Pipelined loop: a Ready without mustSync sends all its messages at once, AFTER_APPEND ones
   * included, while earlier saves are still queued. This is what src/node/ready-loop.ts did
   * before 5d66380, and it loses acknowledged writes (docs/testing.md); only for reproducing that.
   */
  eagerResponses: boolean;
}

/**
 * The pipelined loop's queue, oldest first. Storage writes (a Ready's save, a received
 * snapshot, a state machine snapshot) complete one by one in this order, as LevelStorage's write
 * queue does. A Ready with nothing to write is queued only behind the Ready saves before it,
 * which is all the runtime's loop waits for: it finishes as soon as they are durable.
 */
type PendingWrite =
  | {
      kind: 'ready';
      rd: Ready;
      /** Messages that wait for this write to be durable. */
      late: Message[];
      /** False when only earlier saves hold it back (it has nothing to write). */
      saves: boolean;
      leaderTerm: number | undefined;
      crash: boolean;
    }
  /** A Ready with a received snapshot; no Ready is taken while it waits. */
  | { kind: 'received'; rd: Ready; leaderTerm: number | undefined; crash: boolean }
  /** A state machine snapshot and the compaction after it. */
  | { kind: 'snapshot'; index: number; conf: ConfState; data: Uint8Array; tail: number };

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
  /** Pipelined: writes not yet durable, in issue order. */
  private pending: PendingWrite[] = [];
  /** Pipelined: a received snapshot is queued, so no Ready is taken until it is installed. */
  private receiving = false;
  /** Pipelined: a state machine snapshot is queued (one at a time, as the runtime's Snapshotter). */
  private snapshotting = false;

  constructor(
    readonly id: NodeId,
    readonly disk: MemoryStorage,
    private readonly settings: NodeSettings,
    private readonly loop: LoopOptions,
  ) {
    this.conf = disk.initialState().confState;
    this.storage = disk;
  }

  get pipelined(): boolean {
    return this.loop.pipelined;
  }

  /** Pipelined: storage writes queued and not yet durable (a crash now loses them). */
  get queuedWrites(): number {
    return this.pending.filter((w) => w.kind !== 'ready' || w.saves).length;
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
    this.pending = [];
    this.receiving = false;
    this.snapshotting = false;
  }

  /** No crash point stays armed, nor does any queued write carry one (healing). */
  disarm(): void {
    this.armedCrash = undefined;
    for (const w of this.pending) if (w.kind !== 'snapshot') w.crash = false;
  }

  /**
   * Snapshots the state machine at its applied index and compacts all but `tail` entries.
   * Pipelined, the snapshot is a write like any other: it becomes current, in the image and on
   * the disk, once the saves queued before it are durable (LevelStorage queues its chunks the
   * same way), and those hold every entry it covers.
   */
  snapshot(tail: number, host: Pick<ReadyHost, 'diskWrite'>): boolean {
    const index = this.sm.applied;
    if (!this.up || this.snapshotting || index <= this.disk.snapshot().meta.index) return false;
    if (!this.pipelined) {
      snapshotAndCompact(this.disk, index, this.conf, this.sm.snapshot(), tail);
      return true;
    }
    this.snapshotting = true;
    this.pending.push({ kind: 'snapshot', index, conf: this.conf, data: this.sm.snapshot(), tail });
    host.diskWrite(this);
    return true;
  }

  /** Takes every Ready the core has (and the loop may take now). */
  processReadies(host: ReadyHost): void {
    if (this.pipelined) this.pipeline(host);
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

  /**
   * The pipelined loop, step by step as src/node/ready-loop.ts: send what need not wait, apply
   * the committed entries, write the image and queue the save; a Ready with nothing to write and
   * nothing queued before it is finished at once.
   */
  private pipeline(host: ReadyHost): void {
    while (!this.receiving && this.raw?.hasReady()) {
      const raw = this.raw;
      const rd = this.take(raw, host);
      const leaderTerm = this.role === Role.Leader ? this.term : undefined;
      const armed = this.armedCrash;
      this.armedCrash = undefined;
      if (armed === CrashPoint.BeforePersist && rd.snapshot) {
        host.crashed(this, CrashPoint.BeforePersist);
        return;
      }
      if (rd.snapshot) {
        this.receiving = true;
        this.pending.push({ kind: 'received', rd, leaderTerm, crash: armed === CrashPoint.AfterPersist });
        host.diskWrite(this);
        if (armed === CrashPoint.AfterPersist) this.catchUpAndDie(host);
        return;
      }
      let early: Message[] = [];
      let late = rd.messages;
      if (armed === CrashPoint.AfterPersist) {
        // Held in the dying process's buffers: none of them ever leaves.
      } else if (!rd.mustSync) {
        const behind = !this.loop.eagerResponses && this.pending.some((w) => w.kind === 'ready');
        early = behind ? rd.messages.filter((m) => !AFTER_APPEND.has(m.type)) : rd.messages;
        late = behind ? rd.messages.filter((m) => AFTER_APPEND.has(m.type)) : [];
      } else if (this.role === Role.Leader) {
        early = rd.messages.filter((m) => EARLY.has(m.type));
        late = rd.messages.filter((m) => !EARLY.has(m.type));
      }
      if (early.length > 0) host.send(this, early);
      if (rd.committedEntries.length > 0) host.applying(this, rd);
      this.apply(raw, rd, host);
      const saves = rd.entries.length > 0 || rd.hardState !== undefined;
      if (saves) write(this.storage, rd);
      if (!saves && !this.pending.some((w) => w.kind === 'ready')) {
        if (armed === CrashPoint.AfterPersist) {
          host.crashed(this, CrashPoint.AfterPersist);
          return;
        }
        this.finish(raw, rd, late, host);
        continue;
      }
      this.pending.push({ kind: 'ready', rd, late, saves, leaderTerm, crash: armed === CrashPoint.AfterPersist });
      if (saves) host.diskWrite(this);
      if (armed === CrashPoint.AfterPersist) {
        this.catchUpAndDie(host);
        return;
      }
      if (armed === CrashPoint.BeforePersist) {
        host.crashed(this, CrashPoint.BeforePersist);
        return;
      }
    }
  }

  /**
   * Completes the queued writes now, in order, up to the armed one, which crashes the node.
   * Left alive until its disk caught up on its own, the node would go on sending (a leader's
   * next appends make followers ask for the held entries), and the state the crash point exists
   * for, entries only the dead node has, would rarely survive.
   */
  private catchUpAndDie(host: ReadyHost): void {
    const raw = this.raw;
    while (this.raw === raw && this.pending.length > 0) this.writeDurable(host);
  }

  /**
   * The oldest queued storage write is durable (pipelined); Readies that only waited for the
   * saves up to it finish with it. The caller then lets the node take new Readies.
   */
  writeDurable(host: ReadyHost): void {
    const raw = this.raw;
    if (!raw) return;
    const head = this.pending.shift();
    if (!head || (head.kind === 'ready' && !head.saves)) throw new Error(`${this.id}: a write completed that was never queued`);
    this.complete(raw, head, host);
    // Ready saves form one chain in the runtime's loop; a snapshot write in between is not in it.
    for (let i = 0; this.raw === raw && i < this.pending.length; ) {
      const w = this.pending[i];
      if (w.kind === 'snapshot') i++;
      else if (w.kind === 'ready' && !w.saves) this.complete(raw, this.pending.splice(i, 1)[0], host);
      else break;
    }
  }

  private complete(raw: RawNode, w: PendingWrite, host: ReadyHost): void {
    switch (w.kind) {
      case 'snapshot':
        this.snapshotting = false;
        // A received snapshot may have overtaken it: then it is dropped, as LevelStorage does.
        if (w.index <= this.disk.snapshot().meta.index) return;
        snapshotAndCompact(this.disk, w.index, w.conf, w.data, w.tail);
        snapshotAndCompact(this.storage, w.index, w.conf, w.data, w.tail);
        return;
      case 'received':
        this.receiving = false;
        this.completeReceived(raw, w.rd, w.leaderTerm, w.crash, host);
        return;
      case 'ready':
        host.beforePersist(this, w.rd, w.leaderTerm);
        if (w.saves) write(this.disk, w.rd);
        host.afterPersist(this, w.rd);
        if (w.crash) {
          host.crashed(this, CrashPoint.AfterPersist);
          return;
        }
        this.finish(raw, w.rd, w.late, host);
    }
  }

  /**
   * A received snapshot waited for every earlier write; now it is persisted (to the image only
   * now too: the runtime calls save() for it once the queue is empty), then sent, installed,
   * applied and advanced before any later Ready is taken.
   */
  private completeReceived(raw: RawNode, rd: Ready, leaderTerm: number | undefined, crash: boolean, host: ReadyHost): void {
    host.beforePersist(this, rd, leaderTerm);
    write(this.disk, rd);
    write(this.storage, rd);
    host.afterPersist(this, rd);
    if (crash) {
      host.crashed(this, CrashPoint.AfterPersist);
      return;
    }
    if (rd.messages.length > 0) host.send(this, rd.messages);
    this.install(rd.snapshot!, host);
    if (rd.committedEntries.length > 0) host.applying(this, rd);
    this.apply(raw, rd, host);
    raw.advance(rd);
    host.settled(this);
  }

  private take(raw: RawNode, host: ReadyHost): Ready {
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
  private finish(raw: RawNode, rd: Ready, late: Message[], host: ReadyHost): void {
    if (late.length > 0) host.send(this, late);
    raw.advance(rd);
    host.settled(this);
  }

  private install(snap: Snapshot, host: ReadyHost): void {
    this.sm = Registers.restore(snap.data);
    this.conf = snap.meta.conf;
    host.snapshotInstalled(this, snap);
  }

  /** Applies the committed entries and serves the read states they make possible. */
  private apply(raw: RawNode, rd: Ready, host: ReadyHost): void {
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

/** A Ready's durable parts, written to one storage (the disk, or the image). */
function write(s: MemoryStorage, rd: Ready): void {
  if (rd.snapshot) s.applySnapshot(rd.snapshot);
  s.append(rd.entries);
  if (rd.hardState) s.setHardState(rd.hardState);
}

function snapshotAndCompact(s: MemoryStorage, index: number, conf: ConfState, data: Uint8Array, tail: number): void {
  s.createSnapshot(index, conf, data);
  // The storage's configuration must match the state a restart rebuilds: the snapshot's.
  s.setConfState(conf);
  const upTo = index - tail;
  if (upTo >= s.firstIndex()) s.compact(upTo);
}

/** The volatile image a restarted process loads from its disk: a copy it may run ahead of. */
function imageOf(disk: MemoryStorage): MemoryStorage {
  const snap = disk.snapshot();
  const image = new MemoryStorage(snap.meta.conf);
  if (snap.meta.index > 0) image.applySnapshot(snap);
  if (disk.lastIndex() >= disk.firstIndex()) image.append(disk.entries(disk.firstIndex(), disk.lastIndex() + 1, Number.POSITIVE_INFINITY));
  const { hardState, confState } = disk.initialState();
  image.setHardState(hardState);
  image.setConfState(confState);
  return image;
}
