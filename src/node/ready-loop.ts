/**
 * Drives the core's Ready/advance contract for one node: takes each Ready, sends, applies and
 * persists it, and tells the core when it is durable.
 *
 * Readies are taken without waiting for the disk between them (etcd's asynchronous storage
 * writes): the core hands out each entry once (unstable "in progress"), saves queue in order
 * behind each other, and each Ready is finished (its late messages sent, `advance`d) when its
 * own save is durable, strictly in order. So a leader keeps replicating new proposals while
 * earlier ones are being fsynced, and a follower keeps accepting appends. A Ready with a
 * received snapshot is the exception: it waits for every earlier save and is installed before
 * anything after it is taken.
 */
import type { RawNode } from '../raft/index.ts';
import { type Message, MessageType, type Ready, Role, type Snapshot } from '../raft/types.ts';
import type { SaveRequest } from '../storage/index.ts';

/** Leader messages that may leave before the leader's own append is durable (thesis 10.2.1). */
const EARLY_LEADER_MESSAGES = new Set<string>([MessageType.App, MessageType.Heartbeat, MessageType.Snap]);

/**
 * Answers that acknowledge an append or grant a vote (etcd's msgsAfterAppend): each promises
 * that what the core holds is durable.
 */
const AFTER_APPEND = new Set<string>([MessageType.AppResp, MessageType.VoteResp, MessageType.PreVoteResp]);

/** What the loop needs from its node; each call is one step of handling a Ready. */
export interface ReadyHost {
  readonly raw: RawNode;
  role(): Role;
  onSoftState(role: Role, leader: string): void;
  /** Hands the core what the node collected for it this turn (batched proposals). */
  beforeReady(): void;
  send(messages: Message[]): void;
  save(req: SaveRequest, sync: boolean): Promise<void>;
  /** Observes how long a synced save took (the fsync histogram). */
  saved(ms: number): void;
  /** Applies the Ready's committed entries and releases its read states. */
  applyCommitted(rd: Ready): void;
  /** Replaces the state machine with a received snapshot (already durable). */
  installSnapshot(snap: Snapshot): Promise<void>;
  /** After `advance`: leader duties, snapshot triggers. */
  afterAdvance(rd: Ready): void;
  /** The loop cannot keep its promises any more (a failed save); the node must stop. */
  fail(err: unknown): void;
}

/**
 * How the loop meets the event loop: the runtime defers a run with setImmediate and times
 * fsyncs with performance.now; the simulator (test/sim) passes its own, so that its event
 * queue decides when a deferred run happens and nothing reads a real clock.
 */
export interface LoopScheduler {
  /** Runs `fn` after this turn's other input has been handled. */
  defer(fn: () => void): void;
  /** Milliseconds, for the fsync histogram only. */
  now(): number;
  /**
   * Runs `fn` after the work already queued in this turn's microtasks (a caller's promise
   * reactions), still in this turn; `defer` when absent.
   */
  soon?(fn: () => void): void;
}

const EVENT_LOOP: LoopScheduler = { defer: (fn) => setImmediate(fn), now: () => performance.now(), soon: (fn) => queueMicrotask(fn) };

/**
 * Whether a leader's Ready only commits (and applies) entries: it saves no new entries (the
 * caller checks mustSync), no message carries a read-confirmation round (a heartbeat with a
 * context), which a read waits for, and none promises durability.
 */
function holdAfterApply(rd: Ready): boolean {
  if (rd.committedEntries.length === 0 || rd.messages.length === 0) return false;
  for (const m of rd.messages) {
    if (m.type === MessageType.Heartbeat && m.context !== undefined) return false;
    // Acks and votes wait for earlier saves (below), not for the turn.
    if (AFTER_APPEND.has(m.type)) return false;
  }
  return true;
}

export class ReadyLoop {
  private scheduled = false;
  private running = false;
  private stopped = false;
  /** Settles when the last Ready handed to storage is durable and finished. */
  private persisted: Promise<void> = Promise.resolve();
  private savesInFlight = 0;
  /**
   * Saves in flight that change the term or vote. A leader's appends may leave before its own
   * save (thesis 10.2.1) only once its term is durable: a single voter wins its election in the
   * very Ready that raises the term, and Apps sent before that save could reach a learner, then
   * a crash, a restart at the old term and a second win of the same term would propose another
   * entry at the same index and term (issue 11, hole 1).
   */
  private termSavesInFlight = 0;
  /**
   * Readies whose committed entries wait in the save chain to be applied: while a snapshot is
   * being restored into the state machine (sliced, so the event loop turns) the loop goes on
   * taking Readies, so heartbeat answers keep flowing (issue 11, hole 6a), but nothing is
   * applied out of order or on top of a half-restored state machine.
   */
  private appliesBehind = 0;
  /** The hard state last handed to storage; unknown until the first Ready carries one. */
  private lastHardState: Ready['hardState'];
  /**
   * A leader's messages from a Ready that only committed (holdAfterApply), waiting for the end
   * of the turn; whatever is sent before then goes behind them, so a peer sees them in order.
   */
  private held: Message[] = [];

  constructor(
    private readonly host: ReadyHost,
    private readonly sched: LoopScheduler = EVENT_LOOP,
  ) {}

  /** Handle whatever the core has, soon: after this turn's other input has been stepped in. */
  schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    this.sched.defer(this.runNow);
  }

  /**
   * Takes no more Readies, and resolves once the one being handled is done and every queued
   * save has settled, so nothing acknowledged is left half-written.
   */
  async stop(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    this.stopped = true;
    await this.persisted.catch(() => undefined);
  }

  private readonly runNow = (): void => {
    this.scheduled = false;
    void this.run();
  };

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    const raw = this.host.raw;
    try {
      while (!this.stopped) {
        this.host.beforeReady();
        if (!raw.hasReady()) break;
        const rd = raw.ready();
        if (rd.snapshot) await this.handleSnapshot(rd);
        else this.handle(rd);
      }
    } catch (err) {
      this.failed(err);
    } finally {
      this.running = false;
    }
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.host.fail(err);
  }

  private handle(rd: Ready): void {
    const host = this.host;
    if (rd.softState) host.onSoftState(rd.softState.role, rd.softState.leader);
    let late = rd.messages;
    let held: Message[] | undefined;
    const prev = this.lastHardState;
    const hs = rd.hardState;
    // Unknown (the first hard state since start) counts as a change: that costs one held Ready.
    const termChange = hs !== undefined && (prev === undefined || hs.term !== prev.term || hs.vote !== prev.vote);
    if (hs !== undefined) this.lastHardState = hs;
    if (termChange) this.termSavesInFlight++;
    if (host.role() === Role.Leader && this.termSavesInFlight > 0) {
      // Every leader message carries the new term, and whatever it sends (a tick's heartbeat,
      // the Apps a heartbeat answer unpauses) waits until that term is durable (hole 1), even
      // from a Ready that itself writes nothing: it finishes behind the term's save.
      late = rd.messages;
    } else if (!rd.mustSync && host.role() === Role.Leader && holdAfterApply(rd)) {
      // A leader's Ready that only commits: its messages tell the followers the new commit
      // index, which no caller waits for, while the callers its applies release wait for their
      // replies. Sent now, the peer frames' writes (and the followers they wake on a busy
      // machine) went out first, ~0.2 ms before every single-client reply (issue 15's
      // waterfall). They leave after those replies (LoopScheduler.soon), held below.
      held = rd.messages;
      late = [];
    } else if (!rd.mustSync) {
      // This Ready writes nothing a peer relies on (at most a new commit index), so its
      // messages need not wait for its own save: heartbeat answers, and with them ReadIndex
      // rounds, stay off the fsync path. But an append ack or a vote speaks for the core's
      // whole log and hard state, which earlier saves may not have made durable yet (a resent
      // append, a repeated vote request): those wait for them. The simulator found this
      // (test/sim, --eager-responses).
      const behind = this.savesInFlight > 0;
      this.send(behind ? rd.messages.filter((m) => !AFTER_APPEND.has(m.type)) : late);
      late = behind ? rd.messages.filter((m) => AFTER_APPEND.has(m.type)) : [];
    } else if (host.role() === Role.Leader) {
      this.send(rd.messages.filter((m) => EARLY_LEADER_MESSAGES.has(m.type)));
      late = rd.messages.filter((m) => !EARLY_LEADER_MESSAGES.has(m.type));
    }
    // Committed entries are on a quorum already, so, as etcd does, they are applied while this
    // Ready's own writes are on their way to disk; behind a snapshot restore, after it.
    const applyLater = this.appliesBehind > 0;
    if (applyLater) this.appliesBehind++;
    else host.applyCommitted(rd);
    // After the applies: `soon` queues the release behind the reactions they started.
    if (held) this.hold(held);
    const saves = rd.entries.length > 0 || rd.hardState !== undefined;
    if (!saves && this.savesInFlight === 0) {
      this.finish(rd, late);
      return;
    }
    const t0 = this.sched.now();
    const saved = saves ? host.save({ hardState: rd.hardState, entries: rd.entries }, rd.mustSync) : undefined;
    const before = this.persisted;
    this.savesInFlight++;
    this.persisted = (async () => {
      await before;
      await saved;
      if (rd.mustSync) host.saved(this.sched.now() - t0);
      if (applyLater && !this.stopped) {
        host.applyCommitted(rd);
        this.appliesBehind--;
      }
      this.savesInFlight--;
      if (termChange) this.termSavesInFlight--;
      if (this.stopped) return;
      this.finish(rd, late);
      this.schedule();
    })();
    this.persisted.catch((err: unknown) => this.failed(err));
  }

  private async handleSnapshot(rd: Ready): Promise<void> {
    await this.persisted;
    const host = this.host;
    if (rd.softState) host.onSoftState(rd.softState.role, rd.softState.leader);
    if (rd.hardState) this.lastHardState = rd.hardState;
    await host.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot }, true);
    this.send(rd.messages);
    // The restore runs in the save chain; later Readies are taken meanwhile (appliesBehind).
    const installed = host.installSnapshot(rd.snapshot!);
    this.savesInFlight++;
    this.appliesBehind++;
    this.persisted = (async () => {
      await installed;
      if (this.stopped) return;
      host.applyCommitted(rd);
      this.appliesBehind--;
      this.savesInFlight--;
      this.finish(rd, []);
      this.schedule();
    })();
    this.persisted.catch((err: unknown) => this.failed(err));
  }

  /** Sends `messages`, behind any held ones. */
  private send(messages: Message[]): void {
    if (this.held.length > 0) this.release();
    this.host.send(messages);
  }

  private hold(messages: Message[]): void {
    if (messages.length === 0) return;
    if (this.held.length === 0) {
      if (this.sched.soon) this.sched.soon(this.release);
      else this.sched.defer(this.release);
    }
    for (const m of messages) this.held.push(m);
  }

  /** The held messages leave (`soon`, or ahead of a later send). */
  private readonly release = (): void => {
    const held = this.held;
    if (held.length === 0 || this.stopped) return;
    this.held = [];
    this.host.send(held);
  };

  /** `rd` is durable: what depended on that may go out, and the core may count it. */
  private finish(rd: Ready, late: Message[]): void {
    this.send(late);
    this.host.raw.advance(rd);
    this.host.afterAdvance(rd);
  }
}
