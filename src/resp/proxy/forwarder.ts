/**
 * The follower proxy (`--follower-proxy yes`, RedisRaft's follower-proxy): on a follower, a
 * command that needs the leader (what would otherwise answer -MOVED or -CLUSTERDOWN: writes,
 * PUBLISH, linearizable reads, EXEC) is sent to the leader over this node's authenticated peer
 * link, and the leader's reply bytes are relayed to the client. Plain (non-cluster) clients can
 * then use any node, through failovers.
 *
 * Order. Each client connection has at most one unit in flight to the leader: a unit is the
 * run of forwardable commands waiting at that moment (a pipeline) or one transaction, and the
 * leader runs it in order on one connection (executor.ts). The next unit leaves once every
 * reply of the previous one is in, so the leader runs a connection's commands in the order
 * sent. Replies take their place in the connection's reply queue when the command is
 * dispatched, so local and forwarded replies reach the client in request order. A forwarded
 * command waits for the connection's earlier local reads (WATCH), and is the connection's
 * pending write for later ones (ClientConn.pendingWrite).
 *
 * Transactions. MULTI queues on the follower as usual (the guard lets writes queue); EXEC sends
 * MULTI, the queued commands, EXEC and the WATCHed versions as one unit, so the leader proposes
 * it as one entry and checks the versions at apply time. WATCH itself runs here, after a
 * ReadIndex barrier through the leader. Commands that change this connection's state (SELECT,
 * SUBSCRIBE, CLIENT ...) cannot be queued into such a transaction: EXEC answers EXECABORT.
 * SUBSCRIBE is served locally: every node delivers each published (replicated) message.
 *
 * Settings. A forwarded CONFIG SET answers once this node has applied it too (a ReadIndex
 * barrier): the leader's reply can outrun the commit index it sends this node, and a client
 * told OK for requirepass must find this node wanting the password.
 *
 * Failover. With no leader known, or its link down, a unit waits up to two election timeouts
 * for one, then answers TRYAGAIN (nothing was sent). A leader that answers "not here" ran
 * nothing, and the unit goes to the next leader. A unit whose leader went away (link down, or no
 * answer within the write timeout, or another leader elected meanwhile) answers what the
 * leader would: "outcome unknown" for a write, TRYAGAIN for a read.
 *
 * Memory. A connection's units adapt to its replies' sizes (unit.ts) and stop while its client
 * is not reading (OUTPUT_GATE). At most PROXY_INFLIGHT_BYTES of request bytes await
 * replies at once, over all connections, and at most PROXY_SOCKET_BYTES wait in the peer socket; beyond that units wait
 * for room as they wait for a leader. What waits is bounded per connection by the server's
 * in-flight cap and query buffer limit, and the relayed replies count in the connection's omem
 * (client-output-buffer-limit, maxmemory-clients).
 */
import type { RaftNode } from '../../node/raft-node.ts';
import { OutcomeUnknownError } from '../../node/waiters.ts';
import { CodecError } from '../../transport/bytes.ts';
import type { CommandSpec } from '../commands/spec.ts';
import type { ClientConn } from '../conn.ts';
import type { DeferredReply } from '../deferred-reply.ts';
import { PROXY_ERRORS } from '../errors.ts';
import { isReply } from '../handlers/args.ts';
import type { NodeContext } from '../handlers/context.ts';
import { runtimeErrorReply } from '../handlers/runtime-errors.ts';
import { R, type Reply } from '../reply.ts';
import { type ExecutorHost, isForwarded, runUnit } from './executor.ts';
import { type Route, routeOf } from './route.ts';
import { type ConnState, type Job, makeUnit, newConnState, nextAnswer, nextUnitMax, record, retryable, type Unit, unitLength } from './unit.ts';
import { decodeForward, encodeReply, type ForwardReply, type ForwardRequest, ForwardStatus } from './wire.ts';

/** Request bytes awaiting the leader's replies, over all connections. */
export const PROXY_INFLIGHT_BYTES = 64 * 1024 * 1024;
/** Bytes the peer socket may hold before units wait for it to drain. */
export const PROXY_SOCKET_BYTES = 8 * 1024 * 1024;
/**
 * No unit leaves while the client owes this many reply bytes already (it is not reading; the
 * server's output mark): relayed replies are copies (unit.ts has how units size to them).
 */
const OUTPUT_GATE = 1024 * 1024;
/** How often a connection whose client is not reading is looked at again. */
const READ_POLL_MS = 10;
/** Room left in a peer frame around one reply. */
const FRAME_SLACK = 64 * 1024;

export interface ProxyHost extends ExecutorHost {
  readonly node: RaftNode;
  readonly ctx: NodeContext;
}

export class FollowerProxy {
  private readonly states = new WeakMap<ClientConn, ConnState>();
  private readonly pending = new Map<number, Unit>();
  private nextId = 1;
  private inflightBytes = 0;
  private closed = false;
  private readonly node: RaftNode;

  constructor(
    private readonly host: ProxyHost,
    /** Whether this node forwards (follower-proxy yes); it always serves forwarded units. */
    private readonly enabled: boolean,
  ) {
    this.node = host.node;
    const t = this.node.shared;
    t.onForward = (from, body) => this.onForward(from, body);
    t.onPeerDown = (id) => {
      for (const u of [...this.pending.values()]) if (u.target === id) this.lost(u, 'its link went down');
    };
    // A new leader: what the old one has not answered may still commit, or may not. A stopped
    // (not dead) leader keeps its link up until the pings time out; do not wait for that.
    this.node.on('leader', this.onLeader);
  }

  private readonly onLeader = (id: string): void => {
    if (id === '') return;
    for (const u of [...this.pending.values()]) if (u.target !== id && u.target !== this.node.id) this.lost(u, `${id} was elected`);
  };

  /** The guard lets this connection's commands through on a follower: the proxy takes them. */
  takes(conn: ClientConn): boolean {
    return this.enabled && !this.closed && !isForwarded(conn);
  }

  /**
   * The router's forward hook, for a command about to run: a reply owed later when the command
   * goes to the leader, or null to run it here.
   */
  forward(conn: ClientConn, cmd: CommandSpec, argv: Buffer[]): Reply | DeferredReply | null {
    if (!this.takes(conn)) return null;
    // A new leader runs commands itself, once what the connection forwarded before is answered.
    if (this.node.isLeader() && !this.busy(conn)) return null;
    const route = routeOf(this.host.ctx.impls, conn, cmd, argv);
    if (route === null || isReply(route)) return route;
    return this.enqueue(conn, route);
  }

  private busy(conn: ClientConn): boolean {
    const state = this.states.get(conn);
    return state !== undefined && (state.active !== null || state.queue.length > 0);
  }

  private enqueue(conn: ClientConn, { commands, write, bytes, tx, appliedHere }: Route): DeferredReply {
    const reply = conn.defer();
    let state = this.states.get(conn);
    if (state === undefined) {
      state = newConnState();
      this.states.set(conn, state);
    }
    let resolve!: () => void;
    const finished = new Promise<void>((r) => {
      resolve = r;
    });
    const job: Job = { commands, reply, resp: conn.resp, write, bytes, tx, appliedHere, ready: false, watches: [], watchDirty: false, tries: 0, done: resolve };
    state.queue.push(job);
    // Later reads of the connection wait for this command, as for a local write.
    const before = conn.pendingWrite;
    const all: Promise<void> = before === null ? finished : Promise.all([before, finished]).then(() => {});
    const clear = (): void => {
      if (conn.pendingWrite === all) conn.pendingWrite = null;
    };
    conn.pendingWrite = all;
    void all.then(clear);
    // After the connection's earlier reads (a WATCH filling in versions); EXEC takes them then.
    const gate = this.host.ctx.afterReads(conn, () => {
      job.ready = true;
      if (tx) {
        job.watches = [...conn.watched];
        job.watchDirty = conn.watchDirty;
        conn.watched.clear();
        conn.watchDirty = false;
      }
      return R.OK;
    });
    const st = state;
    if (gate instanceof Promise) void gate.then(() => this.pump(conn, st));
    else this.pump(conn, st);
    return reply;
  }

  /** Sends the connection's next unit if none is in flight. */
  private pump(conn: ClientConn, state: ConnState): void {
    if (state.active !== null || state.queue.length === 0 || !state.queue[0].ready || state.waitTimer !== null) return;
    if (conn.memory().omem >= OUTPUT_GATE && this.states.get(conn) === state) {
      state.waitTimer = setTimeout(() => {
        state.waitTimer = null;
        this.pump(conn, state);
      }, READ_POLL_MS);
      state.waitTimer.unref();
      return;
    }
    const jobs = state.queue.splice(0, unitLength(state.queue, state.unitMax));
    const unit = makeUnit(this.nextId++, conn, jobs, Date.now() + this.leaderWaitMs());
    state.active = unit;
    if (unit.body.length + 2 > this.node.shared.maxPayload) {
      this.finishWith(unit, () => PROXY_ERRORS.requestTooBig(unit.body.length));
      return;
    }
    this.attempt(unit);
  }

  /** Sends the unit to the leader (or runs it here, if this node leads now), or waits for one. */
  private attempt(unit: Unit): void {
    unit.timer = null;
    if (this.closed) {
      this.finishWith(unit, () => PROXY_ERRORS.closing);
      return;
    }
    const node = this.node;
    if (node.isLeader()) {
      this.inFlight(unit, node.id);
      runUnit(this.host, node.id, decodeRequest(unit.body), this.maxReplyBytes(), (r) => this.onReply(node.id, r));
      return;
    }
    const leader = node.leader();
    if (
      leader !== undefined &&
      leader.id !== node.id &&
      this.inflightBytes + unit.body.length <= PROXY_INFLIGHT_BYTES &&
      node.shared.sendForward(leader.id, unit.body, PROXY_SOCKET_BYTES)
    ) {
      this.inFlight(unit, leader.id);
      return;
    }
    if (Date.now() >= unit.deadline) {
      const waited = this.leaderWaitMs();
      this.finishWith(unit, () => PROXY_ERRORS.noLeader(waited));
      return;
    }
    unit.timer = setTimeout(() => this.attempt(unit), node.cfg.tickMs);
    unit.timer.unref();
  }

  private inFlight(unit: Unit, target: string): void {
    unit.target = target;
    this.pending.set(unit.id, unit);
    this.inflightBytes += unit.body.length;
    const ms = this.replyTimeoutMs();
    unit.timer = setTimeout(() => this.lost(unit, `no answer within ${ms} ms`), ms);
    unit.timer.unref();
  }

  private onForward(from: string, body: Uint8Array): void {
    let msg: ReturnType<typeof decodeForward>;
    try {
      msg = decodeForward(body);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      this.node.log.warn({ peer: from, err: err.message }, 'undecodable forwarded command dropped');
      return;
    }
    if ('reply' in msg) {
      this.onReply(from, msg.reply);
      return;
    }
    const transport = this.node.shared;
    runUnit(this.host, from, msg.request, this.maxReplyBytes(), (r) => {
      // Replies are bounded by the follower's budget: never refused for the socket's backlog.
      transport.sendForward(from, encodeReply(r), 0, true);
    });
  }

  private onReply(from: string, r: ForwardReply): void {
    const unit = this.pending.get(r.id);
    if (unit === undefined || !record(unit, from, r)) return;
    // Answer in order as replies come in, up to the first command that did not run.
    for (let bytes = nextAnswer(unit); bytes !== undefined; bytes = nextAnswer(unit)) this.settle(unit.jobs[unit.settled++], R.raw(bytes));
    if (unit.received === unit.results.length) this.complete(unit);
  }

  /** Every reply is in; what did not run goes to the next leader, unless a later command ran. */
  private complete(unit: Unit): void {
    this.leave(unit);
    const state = this.states.get(unit.conn);
    if (state !== undefined) state.unitMax = nextUnitMax(state.unitMax, unit.results);
    const rest = retryable(unit);
    if (rest.length === 0) {
      this.finishWith(unit, (_job, res) => (res?.status === ForwardStatus.Reply ? R.raw(res.bytes) : PROXY_ERRORS.notRun));
      return;
    }
    if (state === undefined) {
      this.finishWith(unit, () => PROXY_ERRORS.closing);
      return;
    }
    for (const j of rest) j.tries++;
    state.active = null;
    state.queue.unshift(...rest);
    // Let the node hear of the new leader first.
    setTimeout(() => this.pump(unit.conn, state), this.node.cfg.tickMs);
  }

  /** The leader went away (link down, replaced) or never answered: the rest of the unit is unknown. */
  private lost(unit: Unit, why: string): void {
    if (!this.pending.has(unit.id)) return;
    this.leave(unit);
    const target = unit.target ?? '?';
    this.finishWith(unit, (job, res) => {
      if (res !== undefined) return res.status === ForwardStatus.Reply ? R.raw(res.bytes) : PROXY_ERRORS.notRun;
      if (!job.write) return PROXY_ERRORS.readLost(target, why);
      const err = new OutcomeUnknownError(`the leader ${target} did not answer (${why}); its outcome is unknown`);
      return runtimeErrorReply(this.node, err, 0, false);
    });
  }

  private leave(unit: Unit): void {
    if (unit.timer !== null) clearTimeout(unit.timer);
    unit.timer = null;
    if (this.pending.delete(unit.id)) this.inflightBytes -= unit.body.length;
  }

  /** Answers every job of the unit not answered yet, and lets the connection's next unit go. */
  private finishWith(unit: Unit, reply: (job: Job, res: ForwardReply | undefined) => Reply): void {
    if (unit.timer !== null) clearTimeout(unit.timer);
    unit.timer = null;
    while (unit.settled < unit.jobs.length) {
      const i = unit.settled++;
      const job = unit.jobs[i];
      this.settle(job, reply(job, unit.results[unit.answers[i]]));
    }
    const state = this.states.get(unit.conn);
    if (state === undefined || state.active !== unit) return;
    state.active = null;
    this.pump(unit.conn, state);
  }

  private settle(job: Job, reply: Reply): void {
    if (!job.appliedHere) {
      job.reply.settle(reply);
      job.done();
      return;
    }
    // The leader applied it; this node learns the commit with the next message. A ReadIndex
    // barrier through the leader waits for that. Its failure (no leader now) leaves the entry
    // committed all the same: the reply stands, this node applies it when it hears.
    const answer = (): void => {
      job.reply.settle(reply);
      job.done();
    };
    this.node.linearizableBarrier().then(answer, answer);
  }

  /** The connection closed: what it had not sent yet is dropped (Redis drops unread input too). */
  disconnected(conn: ClientConn): void {
    const state = this.states.get(conn);
    if (state === undefined) return;
    for (const job of state.queue.splice(0)) this.settle(job, PROXY_ERRORS.closing);
    if (state.waitTimer !== null) clearTimeout(state.waitTimer);
    this.states.delete(conn);
  }

  /** Stops forwarding: waiting units answer TRYAGAIN; units in flight keep their timeouts. */
  close(): void {
    this.closed = true;
    this.node.off('leader', this.onLeader);
  }

  private leaderWaitMs(): number {
    const cfg = this.node.cfg;
    return cfg.tickMs * cfg.electionTicks * 2;
  }

  /** The leader answers "outcome unknown" itself after its write timeout; wait a little longer. */
  private replyTimeoutMs(): number {
    const cfg = this.node.cfg;
    const election = cfg.tickMs * cfg.electionTicks;
    return Math.max(cfg.requestTimeoutMs, election * 4) + election;
  }

  private maxReplyBytes(): number {
    return this.node.shared.maxPayload - FRAME_SLACK;
  }
}

function decodeRequest(body: Buffer): ForwardRequest {
  const msg = decodeForward(body);
  if (!('request' in msg)) throw new TypeError('a unit body is a request');
  return msg.request;
}
