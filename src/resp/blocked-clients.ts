/**
 * Clients blocked on keys (issue 14: BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP),
 * on the leader of the keys' group, one registry per group.
 *
 * A waiter joins the FIFO queue of each key it waits on, in the order clients blocked (Redis's
 * order). Apply tells the leader when it writes a key somebody is blocked on (the keyspace's
 * "readied" keys, KvStore.takeReadied: a deterministic signal, ignored on followers, which
 * block nobody). The leader then serves that key's waiters in queue order by **proposing their
 * pops** as one ordinary log entry, one pop per waiter, as many waiters as the key has
 * elements; a waiter gets its reply only once its pop is applied. A pop that finds the key
 * empty again (another client won) leaves its waiter blocked where it was. One entry at most is
 * in flight per key, so one push never triggers a stampede of proposals.
 *
 * The fate of a pop in flight is what is applied at its index (node/waiters.ts), never the loss
 * of leadership alone: its waiter keeps waiting for it, and a timeout that fires meanwhile
 * waits for it too, so an element popped is always delivered. A step-down answers the waiters
 * with nothing in flight at once with a clean error they can retry (MOVED to the new leader,
 * or TRYAGAIN), since nothing was taken for them. A client that disconnects leaves its queues.
 *
 * Timers live here (the RESP layer), never on the apply path, which does not read the clock.
 */
import type { KvOp, KvResult, TypeName } from '../kv/index.ts';
import type { ClientConn } from './conn.ts';
import type { DeferredReply } from './deferred-reply.ts';
import type { Reply } from './reply.ts';

/** The value type a blocking command pops from. */
export type BlockType = Extract<TypeName, 'list' | 'zset'>;

/** What one blocked command asks of the registry (built by handlers/blocking.ts). */
export interface BlockRequest {
  readonly conn: ClientConn;
  /** The keys waited on, in the command's order. */
  readonly keys: readonly Buffer[];
  readonly type: BlockType;
  /** ms from now; 0 waits forever. */
  readonly timeoutMs: number;
  /** The pop of `key` for this waiter: one op, proposed with other waiters' pops. */
  pop(key: Buffer): KvOp;
  /** The reply for the pop's result, or null when it found nothing (the waiter stays blocked). */
  served(key: Buffer, result: KvResult): Reply | null;
  /** The reply when the timeout passes with nothing popped. */
  readonly timeoutReply: Reply;
  /** Where the reply goes. */
  readonly reply: DeferredReply;
}

/** What the registry needs of its group: the narrow view of the node and the runtime's errors. */
export interface BlockHost {
  isLeader(): boolean;
  /** This group owns the key's slot (a split gives slots away). */
  owns(key: Buffer): boolean;
  /** The key's type in the local state machine now ('none' when absent or expired). */
  typeOf(key: Buffer): TypeName | 'none';
  /** Elements the key holds now (at least 1 for a key of `type`): how many waiters one entry serves. */
  sizeOf(key: Buffer, type: BlockType): number;
  propose(ops: KvOp[]): Promise<KvResult[]>;
  /** The keys (latin1) to report when apply writes one; null: none. */
  watch(keys: ReadonlySet<string> | null): void;
  /** The watched keys apply wrote since the last call. */
  takeReadied(): string[];
  /** A failed pop's reply (the runtime's errors: MOVED, TRYAGAIN, outcome unknown). */
  errorReply(err: unknown, key: Buffer, conn: ClientConn): Reply;
  /** The reply to a waiter with nothing in flight when this node stops leading or its slot leaves the group. */
  steppedDown(key: Buffer, conn: ClientConn): Reply;
  /** A reply that could not be built (a bug): logged; the waiter is answered an internal error. */
  onError(err: unknown, conn: ClientConn): Reply;
}

interface Waiter {
  readonly req: BlockRequest;
  /** latin1 keys, for the queues. */
  readonly keys: readonly string[];
  timer: NodeJS.Timeout | null;
  /** The key whose pop for this waiter is in flight, or null. */
  popping: string | null;
  /** The timeout passed while a pop was in flight: answer the timeout if it finds nothing. */
  timedOut: boolean;
  /** This node stopped leading while a pop was in flight: answer the error if it finds nothing. */
  orphaned: boolean;
  /**
   * Its pop found its key of its type but could not complete (BLMOVE's destination holds
   * another type): it stays blocked, but counts for none of the key's elements, so the waiters
   * behind it are served (Redis serves the next client and undoes the failed pop).
   */
  stuck: boolean;
  /** Answered, or its connection went away. */
  done: boolean;
}

/** setTimeout's longest delay; longer timeouts re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class BlockedClients {
  /** FIFO queues per key (latin1). Its key set is the set apply watches. */
  private readonly queues = new Map<string, Waiter[]>();
  private readonly watched = new Set<string>();
  /** Keys with a pop entry in flight. */
  private readonly busy = new Set<string>();
  private readonly byConn = new Map<ClientConn, Set<Waiter>>();
  /** Connections closed: a command whose first try was still in flight then must not block. */
  private readonly gone = new WeakSet<ClientConn>();
  private scheduled = false;
  /** Pops that found nothing (another client won the element): the waiters stayed blocked. */
  lostRaces = 0;
  /** Elements popped for a client that disconnected while its pop was in flight (see docs/commands.md). */
  droppedOnDisconnect = 0;

  constructor(private readonly host: BlockHost) {}

  /** Blocked clients (INFO blocked_clients). */
  get size(): number {
    let n = 0;
    for (const s of this.byConn.values()) n += s.size;
    return n;
  }

  /** Blocks `req` at the end of its keys' queues; if a key already holds something, serves it. */
  block(req: BlockRequest): void {
    if (this.gone.has(req.conn)) return;
    const first = req.keys[0];
    if (!this.host.isLeader()) {
      req.reply.settle(this.host.steppedDown(first, req.conn));
      return;
    }
    const w: Waiter = {
      req,
      keys: req.keys.map((k) => k.toString('latin1')),
      timer: null,
      popping: null,
      timedOut: false,
      orphaned: false,
      stuck: false,
      done: false,
    };
    for (const k of new Set(w.keys)) {
      let q = this.queues.get(k);
      if (q === undefined) {
        q = [];
        this.queues.set(k, q);
        this.watched.add(k);
      }
      q.push(w);
    }
    if (this.watched.size > 0) this.host.watch(this.watched);
    let conns = this.byConn.get(req.conn);
    if (conns === undefined) {
      conns = new Set();
      this.byConn.set(req.conn, conns);
    }
    conns.add(w);
    if (req.timeoutMs > 0) this.arm(w, Date.now() + req.timeoutMs);
    // A push applied between the first try's pop and now wrote no watched key: look again.
    for (const k of w.keys) this.serve(k);
  }

  /** Apply wrote watched keys (the node's `keysReady`): serve them once this apply pass is over. */
  keysReady(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const k of new Set(this.host.takeReadied())) this.serve(k);
    });
  }

  /**
   * Leadership or ownership changed: a waiter this group can no longer serve (it stopped
   * leading, or a split gave the key's slot away) is answered now if nothing is in flight for
   * it, else once its pop's fate is known.
   */
  leadershipChanged(): void {
    const leads = this.host.isLeader();
    for (const conns of [...this.byConn.values()]) {
      for (const w of [...conns]) {
        if (leads && this.host.owns(w.req.keys[0])) continue;
        if (w.popping !== null) w.orphaned = true;
        else this.finish(w, this.host.steppedDown(w.req.keys[0], w.req.conn));
      }
    }
  }

  /** The connection closed: its waiters leave their queues, and nothing more is popped for them. */
  disconnected(conn: ClientConn): void {
    this.gone.add(conn);
    const conns = this.byConn.get(conn);
    if (conns === undefined) return;
    for (const w of [...conns]) this.remove(w);
  }

  /** Serves `key`'s waiters if this node leads, the key holds their type, and no pop is in flight for it. */
  private serve(key: string): void {
    const q = this.queues.get(key);
    if (q === undefined || this.busy.has(key) || !this.host.isLeader()) return;
    const k = Buffer.from(key, 'latin1');
    const type = this.host.typeOf(k);
    if (type !== 'list' && type !== 'zset') return;
    const n = this.host.sizeOf(k, type);
    const batch: Waiter[] = [];
    let counted = 0;
    for (const w of q) {
      if (counted >= n) break;
      if (w.popping !== null || w.timedOut || w.req.type !== type) continue;
      batch.push(w);
      if (!w.stuck) counted++;
    }
    if (batch.length === 0) return;
    let ops: KvOp[];
    try {
      ops = batch.map((w) => w.req.pop(k));
    } catch (err) {
      for (const w of batch) this.finish(w, this.host.onError(err, w.req.conn));
      return;
    }
    for (const w of batch) w.popping = key;
    this.busy.add(key);
    this.host.propose(ops).then(
      (results) => this.popped(key, k, batch, results),
      (err: unknown) => this.failed(key, k, batch, err),
    );
  }

  private popped(key: string, k: Buffer, batch: Waiter[], results: KvResult[]): void {
    this.busy.delete(key);
    // The key again only if someone was served: a round that served nobody waits for the next write.
    const again = new Set<string>();
    batch.forEach((w, i) => {
      if (this.settlePop(w, k, results[i])) again.add(key);
      // Still blocked at its place: its other keys may hold something it was skipped for.
      else if (!w.done) for (const o of w.keys) if (o !== key) again.add(o);
    });
    for (const o of again) this.serve(o);
  }

  /** Answers `w` from its pop's result, or leaves it blocked; true when it took something. */
  private settlePop(w: Waiter, k: Buffer, result: KvResult | undefined): boolean {
    w.popping = null;
    w.stuck = result?.type === 'error' && result.message.startsWith('WRONGTYPE');
    let reply: Reply | null;
    try {
      reply = w.stuck || result === undefined ? null : w.req.served(k, result);
    } catch (err) {
      reply = this.host.onError(err, w.req.conn);
    }
    if (w.done) {
      // Disconnected while its pop was in flight: an element it took is gone with it.
      if (reply !== null) this.droppedOnDisconnect++;
      return reply !== null;
    }
    if (reply !== null) {
      this.finish(w, reply);
      return true;
    }
    this.lostRaces++;
    if (w.timedOut) this.finish(w, w.req.timeoutReply);
    else if (w.orphaned || !this.host.isLeader() || !this.host.owns(k)) this.finish(w, this.host.steppedDown(k, w.req.conn));
    return false;
  }

  /** The pop entry failed (replaced by another leader's, or its outcome is unknown). */
  private failed(key: string, k: Buffer, batch: Waiter[], err: unknown): void {
    this.busy.delete(key);
    for (const w of batch) {
      w.popping = null;
      if (!w.done) this.finish(w, this.host.errorReply(err, k, w.req.conn));
    }
    this.serve(key);
  }

  private arm(w: Waiter, deadline: number): void {
    const left = deadline - Date.now();
    w.timer = setTimeout(() => (left > MAX_TIMER_MS ? this.arm(w, deadline) : this.timeout(w)), Math.min(Math.max(left, 0), MAX_TIMER_MS));
  }

  private timeout(w: Waiter): void {
    w.timer = null;
    if (w.done) return;
    // Its pop's fate decides: an element it took is delivered, a miss answers the timeout.
    if (w.popping !== null) w.timedOut = true;
    else this.finish(w, w.req.timeoutReply);
  }

  private finish(w: Waiter, reply: Reply): void {
    if (w.done) return;
    this.remove(w);
    w.req.reply.settle(reply);
  }

  /** Takes the waiter out of its queues and its connection's set; it is answered no more. */
  private remove(w: Waiter): void {
    w.done = true;
    if (w.timer !== null) clearTimeout(w.timer);
    w.timer = null;
    for (const k of new Set(w.keys)) {
      const q = this.queues.get(k);
      if (q === undefined) continue;
      const i = q.indexOf(w);
      if (i >= 0) q.splice(i, 1);
      if (q.length === 0) {
        this.queues.delete(k);
        this.watched.delete(k);
      }
    }
    if (this.watched.size === 0) this.host.watch(null);
    const conns = this.byConn.get(w.req.conn);
    conns?.delete(w);
    if (conns?.size === 0) this.byConn.delete(w.req.conn);
  }
}
