/**
 * A logical client: one RESP connection (ioredis) to one node at a time, every operation
 * recorded with its outcome.
 *
 * Outcomes, as Jepsen defines them:
 * - ok: the reply arrived.
 * - fail: the operation certainly had no effect: the node answered -MOVED or -CLUSTERDOWN
 *   (it refused before proposing, or another leader's entry took the index), -TRYAGAIN
 *   (RaftKV's "certainly not applied, retry"), or the request was never sent (no connection). A read that
 *   errs is also a fail, since reads have no effect either way.
 * - info: anything else on a write (a timeout, a connection lost with the request in flight,
 *   an unrecognised error): it may have taken effect, now or later. The client then continues
 *   under a new process number, since the old one is forever "still running" in the model.
 *
 * The client routes by slot as a Redis Cluster client does: -MOVED names the slot and the node
 * serving it, which goes into the slot table that all the run's clients share (as one ioredis
 * `Cluster` shares its slot map), and is also where keys of unknown slots go (in a cluster of
 * one group every slot has the same leader). A sharded cluster (`--shards`) puts the
 * keys of one run in several groups led by different nodes; -TRYAGAIN and -CLUSTERDOWN, which
 * a shard answers while it changes or has no leader, are failures that the next operation
 * retries after a back-off (runner.ts), each attempt recorded as its own operation.
 *
 * With `followerReads` (a control experiment, not a RaftKV guarantee), every GET goes to a
 * random member on a READONLY connection, which Redis Cluster semantics allow to answer from
 * its local, possibly stale, state: the checkers must then find anomalies.
 */
import { Redis } from 'ioredis';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { elapsed } from '../clock.ts';
import type { ChaosNode } from '../cluster/node-proc.ts';
import { type ChaosOp, isWrite, OpFn, OpStatus } from '../history/ops.ts';
import type { Recorder } from '../history/recorder.ts';
import type { Random } from '../random.ts';

export interface Directory {
  memberNodes(): ChaosNode[];
  byAddress(host: string, port: number): ChaosNode | undefined;
}

export interface ClientOptions {
  /** A reply not seen within this is indeterminate. */
  timeoutMs: number;
  connectTimeoutMs: number;
  followerReads?: boolean;
}

export interface Request {
  f: OpFn;
  key: string;
  value?: string;
  ttl?: number;
  final?: boolean;
}

const ARGS: Record<OpFn, (r: Request) => [string, ...string[]]> = {
  [OpFn.Get]: (r) => ['GET', r.key],
  [OpFn.Set]: (r) => ['SET', r.key, r.value ?? ''],
  [OpFn.GetSet]: (r) => ['SET', r.key, r.value ?? '', 'GET'],
  [OpFn.SetPx]: (r) => ['SET', r.key, r.value ?? '', 'PX', String(r.ttl ?? 0)],
  [OpFn.Incr]: (r) => ['INCR', r.key],
  [OpFn.Enqueue]: (r) => ['LPUSH', r.key, r.value ?? ''],
  [OpFn.Dequeue]: (r) => ['BRPOP', r.key, String((r.ttl ?? 1000) / 1000)],
  [OpFn.Pop]: (r) => ['RPOP', r.key],
  [OpFn.Move]: (r) => ['LMOVE', r.key, r.value ?? '', 'RIGHT', 'LEFT'],
  [OpFn.Ack]: (r) => ['LREM', r.key, '1', r.value ?? ''],
  [OpFn.Drain]: (r) => ['LRANGE', r.key, '0', '-1'],
};

/** A reply as the history records it: BRPOP's [key, element] as the element, a list as JSON. */
function resultOf(f: OpFn, reply: unknown): string | number | null {
  if (f === OpFn.Dequeue) return Array.isArray(reply) ? String(reply[1]) : null;
  if (f === OpFn.Drain) return JSON.stringify(reply);
  return reply as string | number | null;
}

class NotSentError extends Error {
  override name = 'NotSentError';
}

export class Client {
  process: number;
  /** Where keys of a slot not in `slots` go: the last node a redirect named. */
  private node?: ChaosNode;
  private pinned?: ChaosNode;
  private readonly conns = new Map<ChaosNode, Redis>();

  constructor(
    readonly worker: number,
    private readonly dir: Directory,
    private readonly rec: Recorder,
    private readonly rnd: Random,
    private readonly opts: ClientOptions,
    /** Slot -> the node the last -MOVED for it named; shared by the run's clients. */
    private readonly slots: Map<number, ChaosNode> = new Map(),
  ) {
    this.process = rec.process();
  }

  /** Sends every operation to `node`, whatever the slot (the pause nemesis's probes). */
  pin(node: ChaosNode): void {
    this.pinned = node;
  }

  async invoke(req: Request): Promise<ChaosOp> {
    const node = this.opts.followerReads && req.f === OpFn.Get && !req.final ? this.rnd.pick(this.dir.memberNodes()) : this.target(req.key);
    let call = elapsed();
    try {
      const conn = await this.connect(node);
      call = elapsed();
      const reply = await conn.call(...ARGS[req.f](req));
      const result = req.f === OpFn.Set || req.f === OpFn.SetPx ? undefined : resultOf(req.f, reply);
      if ((req.f === OpFn.Set || req.f === OpFn.SetPx) && reply !== 'OK') {
        return this.finish(req, node, call, OpStatus.Info, undefined, `unexpected reply ${JSON.stringify(reply)}`);
      }
      return this.finish(req, node, call, OpStatus.Ok, result);
    } catch (err) {
      return this.failed(req, node, call, err as Error);
    }
  }

  private failed(req: Request, node: ChaosNode, call: number, err: Error): ChaosOp {
    const msg = err.message;
    const moved = /^MOVED (\d+) ([^:\s]+):(\d+)/.exec(msg);
    if (moved) {
      const to = this.dir.byAddress(moved[2], Number(moved[3]));
      if (to) this.slots.set(Number(moved[1]), to);
      else this.slots.delete(Number(moved[1]));
      this.node = to;
      return this.finish(req, node, call, OpStatus.Fail, undefined, msg);
    }
    // TRYAGAIN: RaftKV answers it only when the command certainly did not take effect.
    if (msg.startsWith('TRYAGAIN')) return this.finish(req, node, call, OpStatus.Fail, undefined, msg);
    if (msg.startsWith('CLUSTERDOWN') || err instanceof NotSentError || msg.includes("Stream isn't writeable")) {
      this.retarget(node);
      return this.finish(req, node, call, OpStatus.Fail, undefined, msg);
    }
    const lostConnection = !(err.name === 'ReplyError');
    if (lostConnection) this.retarget(node);
    if (!isWrite(req.f)) return this.finish(req, node, call, OpStatus.Fail, undefined, msg);
    const op = this.finish(req, node, call, OpStatus.Info, undefined, msg);
    // The old process may still take effect at any time; carry on as a new one, on a new connection.
    this.process = this.rec.process();
    this.dropConnection(node);
    return op;
  }

  private finish(req: Request, node: ChaosNode, call: number, status: OpStatus, result?: string | number | null, error?: string): ChaosOp {
    return this.rec.record({
      process: this.process,
      client: this.worker,
      node: node.id,
      f: req.f,
      key: req.key,
      ...(req.value !== undefined ? { value: req.value } : {}),
      ...(req.ttl !== undefined ? { ttl: req.ttl } : {}),
      status,
      ...(result !== undefined ? { result } : {}),
      ...(error !== undefined ? { error } : {}),
      call,
      return: elapsed(),
      ...(req.final ? { final: true } : {}),
    });
  }

  private target(key: string): ChaosNode {
    if (this.pinned) return this.pinned;
    const members = this.dir.memberNodes();
    const known = this.slots.get(keyHashSlot(key));
    if (known && members.includes(known)) return known;
    if (!this.node || !members.includes(this.node)) this.node = this.rnd.pick(members);
    return this.node;
  }

  /** Forgets `node` as a target (down, or not serving): the next operation picks again. */
  private retarget(node: ChaosNode): void {
    if (this.node === node) this.node = undefined;
    for (const [slot, n] of this.slots) if (n === node) this.slots.delete(slot);
    this.dropConnection(node);
  }

  /** Opens (or reuses) the connection to `node`; a connection that cannot open means "not sent". */
  async connect(node: ChaosNode): Promise<Redis> {
    const open = this.conns.get(node);
    if (open?.status === 'ready') return open;
    this.dropConnection(node);
    const conn = new Redis({
      host: node.ip,
      port: 6379,
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: () => null,
      commandTimeout: this.opts.timeoutMs,
      connectTimeout: this.opts.connectTimeoutMs,
    });
    conn.on('error', () => {
      // Reported through the failing command; an unhandled 'error' event would crash the harness.
    });
    this.conns.set(node, conn);
    try {
      await conn.connect();
      if (this.opts.followerReads) await conn.call('READONLY');
    } catch (err) {
      this.dropConnection(node);
      throw new NotSentError(`connect to ${node.id}: ${(err as Error).message}`);
    }
    return conn;
  }

  private dropConnection(node: ChaosNode): void {
    this.conns.get(node)?.disconnect();
    this.conns.delete(node);
  }

  close(): void {
    for (const node of [...this.conns.keys()]) this.dropConnection(node);
  }
}
