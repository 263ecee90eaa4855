/**
 * Simulated clients and the history they record. Each client runs one operation at a time, as
 * a Jepsen process does, through the node's own entry points: writes go to the node the client
 * believes leads (SimNode.propose: the proposal batch, then the write waiters), reads wait for
 * the node's linearizable barrier (the read waiters, ReadIndex) and then read its KV store.
 *
 * Keys come in three kinds, each checked as a register (test/support/linearizability.ts):
 * - k*: GET, SET, DEL, and WATCH + MULTI/SET/EXEC, recorded as a compare-and-set whose expected
 *   value is what the node's store held when the client took the version (an aborted EXEC did
 *   nothing: `fail`);
 * - t*: GET, SET with a TTL (PXAT from the node's clock) or without, DEL. A TTL SET adds an
 *   indeterminate delete to the history (the key may expire at any time after);
 * - n*: GET, INCR, DEL.
 * The leader's eviction proposals add an indeterminate delete for each victim.
 * A targeted scenario (targeted.ts) may steer reads and writes to given nodes for a while.
 *
 * Outcomes: ok when the proposing node applied the entry (the reply is computed at apply time)
 * or the read was served; fail when the write was refused before it was proposed, its index
 * holds another entry, or an EXEC aborted; info for anything else (timeout, crash, a snapshot
 * that skipped the index).
 */
import type { KvOp, KvResult } from '../../src/kv/index.ts';
import { OutcomeUnknownError, ProposalFailedError } from '../../src/node/waiters.ts';
import type { NodeId } from '../../src/raft/index.ts';
import type { HistoryOp } from '../support/history.ts';
import type { Prng } from './prng.ts';
import { RefusedError, type SimNode } from './sim-node.ts';

export interface WorkloadHost {
  /** Nodes a client can connect to (up and not decommissioned). */
  reachable(): SimNode[];
  node(id: NodeId): SimNode | undefined;
  /** Runs `event` for the client `delay` time units from now. */
  later(delay: number, event: { kind: 'client'; client: number } | { kind: 'timeout'; op: number }): void;
  trace(line: string): void;
  /** A node accepted a write (before it handles the Ready carrying it). */
  proposed(node: SimNode): void;
  /** The simulated time (deadlines). */
  time(): number;
}

interface Pending {
  op: HistoryOp;
  opId: number;
  client: number;
  node: NodeId;
  incarnation: number;
}

export interface Steering {
  reads?: NodeId;
  writes?: NodeId;
  /** No reads while the write target is reachable. */
  writesOnly?: boolean;
  until: number;
}

export interface WorkloadOptions {
  clients: number;
  keys: number;
  /** Keys with TTLs (t*) and counters (n*). */
  ttlKeys: number;
  counterKeys: number;
  /** Time units a client waits for an answer before giving up (the op becomes `info`). */
  timeout: number;
  /** Mean think time between a client's operations. */
  think: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class Workload {
  readonly history: HistoryOp[] = [];
  private clock = 0;
  private nextOpId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly hints: (NodeId | undefined)[];
  private seq = 0;
  /** Where a targeted scenario (targeted.ts) sends reads and writes for a while. */
  private steering: Steering | undefined;
  /** False once the run winds down: clients finish what they have but start nothing new. */
  active = true;

  constructor(
    private readonly opts: WorkloadOptions,
    private readonly rng: Prng,
    private readonly host: WorkloadHost,
  ) {
    this.hints = new Array(opts.clients).fill(undefined);
  }

  start(): void {
    for (let c = 0; c < this.opts.clients; c++) this.host.later(this.rng.int(1, this.opts.think), { kind: 'client', client: c });
  }

  get outstanding(): number {
    return this.pending.size;
  }

  private tick(): number {
    return ++this.clock;
  }

  private next(client: number, delay = this.rng.int(1, 2 * this.opts.think)): void {
    if (this.active) this.host.later(delay, { kind: 'client', client });
  }

  /** The client's next operation. */
  act(client: number): void {
    if (!this.active) return;
    const nodes = this.host.reachable();
    if (nodes.length === 0) {
      this.next(client);
      return;
    }
    const { keys, ttlKeys, counterKeys } = this.opts;
    const k = this.rng.int(1, keys + ttlKeys + counterKeys);
    const key = k <= keys ? `k${k}` : k <= keys + ttlKeys ? `t${k - keys}` : `n${k - keys - ttlKeys}`;
    const roll = this.rng.float();
    // Steered to write only, the reads' share of the roll goes to DEL.
    if (roll < 0.45 && !this.writesOnly(nodes)) {
      this.read(client, nodes, key);
      return;
    }
    const target = this.steered('writes', nodes) ?? this.hinted(client) ?? this.rng.pick(nodes);
    const value = `c${client}-${++this.seq}`;
    const kind = key[0];
    if (roll < 0.55) this.write(client, target, key, { type: 'del', keys: [enc.encode(key)] }, null);
    else if (kind === 'n') this.incr(client, target, key);
    else if (kind === 'k' && roll > 0.85) this.cas(client, target, key, value);
    else if (kind === 't' && roll > 0.7) {
      const pxat = target.now() + this.rng.int(20, 600);
      this.write(client, target, key, { type: 'set', key: enc.encode(key), value: enc.encode(value), pxat }, value, true);
    } else this.write(client, target, key, { type: 'set', key: enc.encode(key), value: enc.encode(value) }, value);
  }

  private write(client: number, target: SimNode, key: string, op: KvOp, value: string | null, ttl = false): void {
    const h: HistoryOp = { clientId: client, key, op: 'write', input: value, call: this.tick(), return: 0, status: 'info' };
    // The value may expire at any time after the SET: an indeterminate delete of that value only.
    if (ttl) this.history.push({ clientId: 'expiry', key, op: 'cas', input: { expect: value, value: null }, call: h.call, return: 0, status: 'info' });
    this.submit(client, target, h, [op], undefined, `${op.type} ${key}${value === null ? '' : `=${value}`}${ttl ? ' with ttl' : ''}`, (r) =>
      r[0]?.type === 'error' ? 'fail' : 'ok',
    );
  }

  private incr(client: number, target: SimNode, key: string): void {
    const h: HistoryOp = { clientId: client, key, op: 'incr', call: this.tick(), return: 0, status: 'info' };
    this.submit(client, target, h, [{ type: 'incrby', key: enc.encode(key), delta: 1n }], undefined, `incr ${key}`, (r) => {
      const res = r[0];
      h.output = res?.type === 'int' ? Number(res.value) : 'error';
      return 'ok';
    });
  }

  /** WATCH key, read it on the node, MULTI SET key value EXEC. */
  private cas(client: number, target: SimNode, key: string, value: string): void {
    const kv = target.kv!;
    const now = target.now();
    const version = kv.version(enc.encode(key), now);
    const current = kv.get(enc.encode(key), now);
    const expect = current === null ? null : dec.decode(current);
    const h: HistoryOp = { clientId: client, key, op: 'cas', input: { expect, value }, call: this.tick(), return: 0, status: 'info' };
    const watch = [{ key: enc.encode(key), version }];
    const op: KvOp = { type: 'set', key: enc.encode(key), value: enc.encode(value) };
    this.submit(client, target, h, [op], watch, `cas ${key} ${expect}->${value} (version ${version})`, (r) => {
      if (r[0]?.type === 'aborted') return 'fail';
      if (h.op === 'cas') h.output = true;
      return 'ok';
    });
  }

  private submit(
    client: number,
    target: SimNode,
    h: HistoryOp,
    ops: KvOp[],
    watch: { key: Uint8Array; version: number }[] | undefined,
    what: string,
    outcome: (r: KvResult[]) => 'ok' | 'fail',
  ): void {
    this.history.push(h);
    const opId = this.nextOpId++;
    const p: Pending = { op: h, opId, client, node: target.id, incarnation: target.incarnation };
    this.pending.set(opId, p);
    this.host.trace(`client c${client} ${what} -> ${target.id} (op ${opId})`);
    this.host.later(this.opts.timeout, { kind: 'timeout', op: opId });
    target.propose(ops, this.host.time() + this.opts.timeout, watch).then(
      (r) => this.pending.has(opId) && this.settled(p, outcome(r), `applied: ${describeResult(r[0])}`),
      (err: Error) => {
        if (err instanceof RefusedError) {
          this.hints[client] = err.leader || undefined;
          this.settled(p, 'fail', `refused: ${err.message}`, 1);
        } else if (err instanceof ProposalFailedError) this.settled(p, 'fail', err.message);
        else if (err instanceof OutcomeUnknownError) this.settled(p, 'info', err.message);
        else this.settled(p, 'info', `${err.name}: ${err.message}`);
      },
    );
    if (this.pending.has(opId)) this.host.proposed(target);
  }

  private read(client: number, nodes: SimNode[], key: string): void {
    const hinted = this.hinted(client);
    const target = this.steered('reads', nodes) ?? (hinted && this.rng.chance(0.5) ? hinted : this.rng.pick(nodes));
    const opId = this.nextOpId++;
    const h: HistoryOp = { clientId: client, key, op: 'read', call: this.tick(), return: 0, status: 'info' };
    this.history.push(h);
    const p: Pending = { op: h, opId, client, node: target.id, incarnation: target.incarnation };
    this.pending.set(opId, p);
    this.host.trace(`client c${client} read ${key} via ${target.id} (op ${opId})`);
    this.host.later(this.opts.timeout, { kind: 'timeout', op: opId });
    target.barrier(this.host.time() + this.opts.timeout).then(
      () => {
        if (!this.pending.has(opId) || !target.up || target.incarnation !== p.incarnation) return;
        const v = target.kv!.get(enc.encode(key), target.now());
        if (h.op === 'read') h.output = v === null ? null : dec.decode(v);
        this.settled(p, 'ok', `read at applied ${target.applied} -> ${h.op === 'read' ? h.output : ''}`);
      },
      (err: Error) => this.settled(p, 'info', `${err.name}: ${err.message}`),
    );
  }

  /**
   * Until `until`, every client reads through `reads` and writes through `writes` while that
   * node is reachable (a scenario's old and new leader); a later call replaces an earlier one.
   */
  steer(steering: Steering): void {
    this.steering = steering;
    const to = [steering.reads && `reads to ${steering.reads}`, steering.writes && `writes${steering.writesOnly ? ' only' : ''} to ${steering.writes}`].filter(
      Boolean,
    );
    this.host.trace(`clients steered (${to.join(', ')}) until ${steering.until}`);
  }

  private steered(kind: 'reads' | 'writes', nodes: SimNode[]): SimNode | undefined {
    const s = this.steering;
    if (!s || this.host.time() > s.until) return undefined;
    return nodes.find((n) => n.id === s[kind]);
  }

  /** Steered writes only: no reads while the write target is reachable. */
  private writesOnly(nodes: SimNode[]): boolean {
    return this.steering?.writesOnly === true && this.steered('writes', nodes) !== undefined;
  }

  /** The node the client believes leads, if it is reachable. */
  private hinted(client: number): SimNode | undefined {
    const id = this.hints[client];
    const node = id === undefined ? undefined : this.host.node(id);
    return node?.up && !node.decommissioned ? node : undefined;
  }

  private settled(p: Pending, status: 'ok' | 'fail' | 'info', why: string, delay?: number): void {
    if (!this.pending.has(p.opId)) return;
    this.finish(p, status, why, delay);
  }

  private finish(p: Pending, status: 'ok' | 'fail' | 'info', why: string, delay?: number): void {
    this.pending.delete(p.opId);
    p.op.status = status;
    p.op.return = this.tick();
    this.host.trace(`client c${p.client} op ${p.opId} ${status}: ${why}`);
    this.next(p.client, delay === undefined ? undefined : this.rng.int(1, 5));
  }

  /**
   * The leader proposed an eviction: each victim may be deleted from now on, but only while it
   * holds the value it has now (the version the leader picked it at: values are unique).
   */
  evicting(node: SimNode, ops: KvOp[]): void {
    const call = this.tick();
    const now = node.now();
    for (const op of ops) {
      if (op.type !== 'evictIf') continue;
      for (const v of op.victims) {
        const key = dec.decode(v.key);
        const held = node.kv!.get(v.key, now);
        if (key === LIVENESS_KEY || held === null) continue;
        const input = { expect: dec.decode(held), value: null };
        this.history.push({ clientId: 'eviction', key, op: 'cas', input, call, return: 0, status: 'info' });
      }
    }
  }

  /** The node's process died: its clients cannot learn their outcomes. */
  crashed(node: SimNode): void {
    for (const p of [...this.pending.values()]) if (p.node === node.id) this.finish(p, 'info', `${node.id} crashed`);
  }

  timeout(opId: number): void {
    const p = this.pending.get(opId);
    if (p) this.finish(p, 'info', 'timed out');
  }

  /** Ends the run: whatever is still pending stays indeterminate. */
  close(): void {
    this.active = false;
    for (const p of [...this.pending.values()]) this.finish(p, 'info', 'run ended');
  }
}

/** The key the liveness check writes; not part of the checked history. */
export const LIVENESS_KEY = 'live';

function describeResult(r: KvResult | undefined): string {
  if (!r) return '-';
  if (r.type === 'int') return String(r.value);
  if (r.type === 'error') return r.message;
  return r.type;
}
