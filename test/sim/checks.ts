/**
 * The safety checks a node's callbacks feed: every save before and after it is durable, every
 * committed entry claimed and applied (with the entry clock's rule that timestamps never go
 * backwards), every snapshot taken and installed. A violation found inside a callback is kept
 * here (the Ready loop would swallow a throw) and ends the run after the current event.
 */
import { createHash } from 'node:crypto';
import { entryTs } from '../../src/kv/index.ts';
import { type Entry, EntryType, type NodeId, type Ready, type Snapshot } from '../../src/raft/index.ts';
import type { SaveRequest } from '../../src/storage/memory-log.ts';
import { Invariant, InvariantViolation, type SafetyMonitor } from './invariants.ts';
import type { SimNode } from './sim-node.ts';
import { TraceKind as K, type TraceKind } from './trace.ts';

export interface ChecksHost {
  readonly monitor: SafetyMonitor;
  trace(kind: TraceKind, text: string): void;
}

export class Checks {
  /** The first violation found inside a node's callbacks. */
  violation: InvariantViolation | undefined;
  /** Per node, the newest entry timestamp it applied (the timestamp rule: never backwards). */
  private readonly lastTs = new Map<NodeId, number>();

  constructor(private readonly host: ChecksHost) {}

  /** A node (re)started: its applied state comes from its disk, not from what it applied before. */
  started(id: NodeId): void {
    this.lastTs.delete(id);
  }

  /** Runs a monitor check from inside a node's callbacks: the first violation ends the run after this event. */
  guard(check: () => void): void {
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

  beforeDurable(node: SimNode, req: SaveRequest, leaderTerm: number | undefined): void {
    this.guard(() => this.host.monitor.beforePersist(node.id, node.disk.log, req, leaderTerm));
  }

  afterDurable(node: SimNode, req: SaveRequest): void {
    this.guard(() => this.host.monitor.afterPersist(node.id, node.disk.log, req));
  }

  applying(node: SimNode, rd: Ready): void {
    this.guard(() => {
      for (const e of rd.committedEntries) this.host.monitor.claimCommitted(node.id, e.index, e.term, node.term);
    });
  }

  applied(node: SimNode, e: Entry): void {
    this.guard(() => this.host.monitor.applied(node.id, e, node.digest));
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

  snapshotInstalled(node: SimNode, snap: Snapshot): void {
    this.host.trace(K.Cluster, `${node.id} installed snapshot at ${snap.meta.index} (term ${snap.meta.term})`);
    const digest = this.host.monitor.digestAt(snap.meta.index);
    if (digest === undefined) {
      this.failed(node, 'installed a snapshot', new Error(`no replica applied index ${snap.meta.index} yet`));
      return;
    }
    node.setDigest(digest);
    this.lastTs.delete(node.id);
    this.guard(() => this.host.monitor.restored(node.id, snap, digest));
  }

  /** Takes a snapshot on `node`, keeping `tail` entries, and checks its image against the others'. */
  snapshot(node: SimNode, tail: number): void {
    node.snapshot(tail, (index, digest, data) => {
      const image = createHash('sha1').update(data).digest().readUInt32LE(0);
      this.guard(() => this.host.monitor.snapshotTaken(node.id, index, digest, image));
    });
  }
}
