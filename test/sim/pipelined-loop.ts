/**
 * The pipelined Ready loop of src/node/ready-loop.ts (etcd's asynchronous storage writes), for
 * one simulated node: each Ready's messages go out (a leader's App/Heartbeat/Snap at once, the
 * rest once durable; see AFTER_APPEND for a Ready that writes nothing), its committed entries
 * are applied at once, and its save joins a queue that the cluster completes after seeded
 * delays, strictly in order; the next Ready is taken without waiting.
 */
import type { ConfState, Message, RawNode, Ready } from '../../src/raft/index.ts';
import { Role } from '../../src/raft/index.ts';
import { snapshotAndCompact, write } from './disk.ts';
import { AFTER_APPEND, CrashPoint, EARLY, type ReadyHost } from './ready-host.ts';
import type { SimNode } from './sim-node.ts';


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

export class PipelinedLoop {
  /** Writes not yet durable, in issue order. */
  private pending: PendingWrite[] = [];
  /** A received snapshot is queued, so no Ready is taken until it is installed. */
  private receiving = false;
  /** A state machine snapshot is queued (one at a time, as the runtime's Snapshotter). */
  private snapshotting = false;

  constructor(
    private readonly node: SimNode,
    /** LoopOptions.eagerResponses. */
    private readonly eagerResponses: boolean,
  ) {}

  /** Storage writes queued and not yet durable (a crash now loses them). */
  get queuedWrites(): number {
    return this.pending.filter((w) => w.kind !== 'ready' || w.saves).length;
  }

  /** The process died: every queued write is lost. */
  reset(): void {
    this.pending = [];
    this.receiving = false;
    this.snapshotting = false;
  }

  /** No queued write carries an armed crash any more (healing). */
  disarm(): void {
    for (const w of this.pending) if (w.kind !== 'snapshot') w.crash = false;
  }

  /**
   * A state machine snapshot is a write like any other: it becomes current, in the image and on
   * the disk, once the saves queued before it are durable (LevelStorage queues its chunks the
   * same way), and those hold every entry it covers.
   */
  queueSnapshot(index: number, conf: ConfState, data: Uint8Array, tail: number, host: Pick<ReadyHost, 'diskWrite'>): boolean {
    if (this.snapshotting) return false;
    this.snapshotting = true;
    this.pending.push({ kind: 'snapshot', index, conf, data, tail });
    host.diskWrite(this.node);
    return true;
  }

  /**
   * The pipelined loop, step by step as src/node/ready-loop.ts: send what need not wait, apply
   * the committed entries, write the image and queue the save; a Ready with nothing to write and
   * nothing queued before it is finished at once.
   */
  run(host: ReadyHost): void {
    while (!this.receiving && this.node.raw?.hasReady()) {
      const raw = this.node.raw;
      const rd = this.node.take(raw, host);
      const leaderTerm = this.node.role === Role.Leader ? this.node.term : undefined;
      const armed = this.node.armedCrash;
      this.node.armedCrash = undefined;
      if (armed === CrashPoint.BeforePersist && rd.snapshot) {
        host.crashed(this.node, CrashPoint.BeforePersist);
        return;
      }
      if (rd.snapshot) {
        this.receiving = true;
        this.pending.push({ kind: 'received', rd, leaderTerm, crash: armed === CrashPoint.AfterPersist });
        host.diskWrite(this.node);
        if (armed === CrashPoint.AfterPersist) this.catchUpAndDie(host);
        return;
      }
      let early: Message[] = [];
      let late = rd.messages;
      if (armed === CrashPoint.AfterPersist) {
        // Held in the dying process's buffers: none of them ever leaves.
      } else if (!rd.mustSync) {
        const behind = !this.eagerResponses && this.pending.some((w) => w.kind === 'ready');
        early = behind ? rd.messages.filter((m) => !AFTER_APPEND.has(m.type)) : rd.messages;
        late = behind ? rd.messages.filter((m) => AFTER_APPEND.has(m.type)) : [];
      } else if (this.node.role === Role.Leader) {
        early = rd.messages.filter((m) => EARLY.has(m.type));
        late = rd.messages.filter((m) => !EARLY.has(m.type));
      }
      if (early.length > 0) host.send(this.node, early);
      if (rd.committedEntries.length > 0) host.applying(this.node, rd);
      this.node.apply(raw, rd, host);
      const saves = rd.entries.length > 0 || rd.hardState !== undefined;
      if (saves) write(this.node.storage, rd);
      if (!saves && !this.pending.some((w) => w.kind === 'ready')) {
        if (armed === CrashPoint.AfterPersist) {
          host.crashed(this.node, CrashPoint.AfterPersist);
          return;
        }
        this.node.finish(raw, rd, late, host);
        continue;
      }
      this.pending.push({ kind: 'ready', rd, late, saves, leaderTerm, crash: armed === CrashPoint.AfterPersist });
      if (saves) host.diskWrite(this.node);
      if (armed === CrashPoint.AfterPersist) {
        this.catchUpAndDie(host);
        return;
      }
      if (armed === CrashPoint.BeforePersist) {
        host.crashed(this.node, CrashPoint.BeforePersist);
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
    const raw = this.node.raw;
    while (this.node.raw === raw && this.pending.length > 0) this.writeDurable(host);
  }

  /**
   * The oldest queued storage write is durable (pipelined); Readies that only waited for the
   * saves up to it finish with it. The caller then lets the node take new Readies.
   */
  writeDurable(host: ReadyHost): void {
    const raw = this.node.raw;
    if (!raw) return;
    const head = this.pending.shift();
    if (!head || (head.kind === 'ready' && !head.saves)) throw new Error(`${this.node.id}: a write completed that was never queued`);
    this.complete(raw, head, host);
    // Ready saves form one chain in the runtime's loop; a snapshot write in between is not in it.
    for (let i = 0; this.node.raw === raw && i < this.pending.length; ) {
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
        if (w.index <= this.node.disk.snapshot().meta.index) return;
        snapshotAndCompact(this.node.disk, w.index, w.conf, w.data, w.tail);
        snapshotAndCompact(this.node.storage, w.index, w.conf, w.data, w.tail);
        return;
      case 'received':
        this.receiving = false;
        this.completeReceived(raw, w.rd, w.leaderTerm, w.crash, host);
        return;
      case 'ready':
        host.beforePersist(this.node, w.rd, w.leaderTerm);
        if (w.saves) write(this.node.disk, w.rd);
        host.afterPersist(this.node, w.rd);
        if (w.crash) {
          host.crashed(this.node, CrashPoint.AfterPersist);
          return;
        }
        this.node.finish(raw, w.rd, w.late, host);
    }
  }

  /**
   * A received snapshot waited for every earlier write; now it is persisted (to the image only
   * now too: the runtime calls save() for it once the queue is empty), then sent, installed,
   * applied and advanced before any later Ready is taken.
   */
  private completeReceived(raw: RawNode, rd: Ready, leaderTerm: number | undefined, crash: boolean, host: ReadyHost): void {
    host.beforePersist(this.node, rd, leaderTerm);
    write(this.node.disk, rd);
    write(this.node.storage, rd);
    host.afterPersist(this.node, rd);
    if (crash) {
      host.crashed(this.node, CrashPoint.AfterPersist);
      return;
    }
    if (rd.messages.length > 0) host.send(this.node, rd.messages);
    this.node.install(rd.snapshot!, host);
    if (rd.committedEntries.length > 0) host.applying(this.node, rd);
    this.node.apply(raw, rd, host);
    raw.advance(rd);
    host.settled(this.node);
  }

}
