/**
 * An opt-in per-stage trace of writes (issue 15): when a write's client bytes arrived, when it
 * was proposed, when the Ready loop handed it to the core, when each node started and finished
 * saving it, when the App left and arrived, when the follower's ack left and arrived, when it
 * committed, was applied and its reply was written. test/bench/trace-write.ts turns the stamps
 * of all three nodes into a waterfall (docs/performance.md).
 *
 * Off unless `--trace-writes DIR` is set: then `writeTrace` is an instance and every call site
 * is `writeTrace?.stamp(...)`, one load and a nullish check when off. The stamps are
 * `process.hrtime.bigint()`, CLOCK_MONOTONIC, which every process on a machine shares, so the
 * nodes' stamps line up. They are taken here and in the node runtime, never in src/raft or the
 * apply path (src/kv), which stay clock-free. On SIGUSR2 the node writes what it holds to
 * `DIR/<node id>.trace.json` (written whole, then renamed).
 *
 * Stamps are keyed by log index, so they mean something for a single-group node; the client's
 * stages (received, proposed, replied) are matched to indexes by order, which is exact for one
 * client with one write outstanding, what the tool drives.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The stages a node stamps, in the order a write passes them on the critical path. */
export const TRACE_STAGES = [
  'received', // leader: the client's bytes arrived (RESP connection)
  'proposed', // leader: parsed, dispatched, encoded and queued for the turn's proposal
  'batched', // leader: the Ready loop handed the turn's writes to the core
  'sent', // leader: the App carrying the entry was handed to the transport
  'saveStart', // either: the Ready holding the entry went to storage
  'saveEnd', // either: that save is durable
  'peerReceived', // follower: the App arrived and is stepped into the core
  'ackSent', // follower: the AppResp covering the entry was handed to the transport
  'ackReceived', // leader: an AppResp covering the entry arrived
  'committed', // leader: a Ready carries it as committed
  'applied', // leader: applied to the state machine, its caller resolved
  'settled', // leader: the RESP connection has the reply (promise reactions done)
  'replied', // leader: the reply was written to the client socket
] as const;
export type TraceStage = (typeof TRACE_STAGES)[number];

const CODE = new Map<TraceStage, number>(TRACE_STAGES.map((s, i) => [s, i]));
/** Stamps kept at most (3 numbers each): a long run stops recording rather than grow. */
const MAX_STAMPS = 1_000_000;

export class WriteTrace {
  /** Flat triples: stage code, log index, nanoseconds. */
  private readonly rows: number[] = [];
  private lastReceived = 0;
  /** Received/proposed times of the writes queued this turn, not yet given an index. */
  private unindexed: number[] = [];
  /** Indexes proposed here, applied, and waiting for their reply to be written. */
  private unreplied: number[] = [];
  private readonly ownIndexes = new Set<number>();

  constructor(
    private readonly dir: string,
    private readonly nodeId: string,
  ) {}

  stamp(stage: TraceStage, index: number): void {
    if (this.rows.length >= MAX_STAMPS * 3) return;
    this.rows.push(CODE.get(stage)!, index, now());
  }

  /** Client bytes arrived (any command: only the next write's proposal keeps it). */
  received(): void {
    this.lastReceived = now();
  }

  /** A write was queued for this turn's proposal. */
  proposed(): void {
    this.unindexed.push(this.lastReceived, now());
  }

  /** The turn's writes became entries `first`.. in order. */
  batched(first: number, count: number): void {
    const t = now();
    const u = this.unindexed;
    this.unindexed = [];
    for (let i = 0; i < count && this.rows.length < MAX_STAMPS * 3; i++) {
      const index = first + i;
      this.ownIndexes.add(index);
      if (u[2 * i]) this.rows.push(CODE.get('received')!, index, u[2 * i]!);
      if (u[2 * i + 1]) this.rows.push(CODE.get('proposed')!, index, u[2 * i + 1]!);
      this.rows.push(CODE.get('batched')!, index, t);
    }
  }

  /** Entry `index` was applied here; a write proposed here now waits for its reply. */
  applied(index: number): void {
    if (!this.ownIndexes.delete(index)) return;
    this.stamp('applied', index);
    this.unreplied.push(index);
  }

  /** A connection was handed a finished reply: the oldest applied write's, if it is waiting. */
  settled(): void {
    const index = this.unreplied[0];
    if (index !== undefined) this.stamp('settled', index);
  }

  /** A connection wrote replies: the oldest applied write's is among them. */
  replied(): void {
    const index = this.unreplied.shift();
    if (index !== undefined) this.stamp('replied', index);
  }

  /** Writes every stamp so far to DIR/<id>.trace.json. */
  dump(): string {
    const file = join(this.dir, `${this.nodeId}.trace.json`);
    const stamps: { stage: TraceStage; index: number; ns: number }[] = [];
    for (let i = 0; i < this.rows.length; i += 3) stamps.push({ stage: TRACE_STAGES[this.rows[i]!]!, index: this.rows[i + 1]!, ns: this.rows[i + 2]! });
    writeFileSync(`${file}.tmp`, JSON.stringify({ node: this.nodeId, stamps }));
    renameSync(`${file}.tmp`, file);
    return file;
  }
}

/** Nanoseconds on the machine-wide monotonic clock (as a double: sub-microsecond precision kept). */
const now = (): number => Number(process.hrtime.bigint());

/** The process's trace, or undefined (the default): every call site checks. */
export let writeTrace: WriteTrace | undefined;

/** Turns the trace on for this process (once; later calls keep the first). */
export function enableWriteTrace(dir: string, nodeId: string): void {
  if (writeTrace || dir === '') return;
  writeTrace = new WriteTrace(dir, nodeId);
  const trace = writeTrace;
  process.on('SIGUSR2', () => {
    trace.dump();
  });
}
