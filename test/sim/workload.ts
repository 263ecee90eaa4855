/**
 * Simulated clients and the history they record. Each client runs one operation at a time, as
 * a Jepsen process does: writes and compare-and-sets proposed on the node it believes leads,
 * and linearizable reads through ReadIndex on any node (followers forward them). Outcomes:
 *
 * - ok: the proposing node applied the entry (the reply is computed at apply time), or the read
 *   was served once the node's state machine reached the read index;
 * - fail: the proposal was refused (ProposalDroppedError) or its index was taken by another
 *   entry, so it can never be applied;
 * - info: anything else the client cannot know (timeout, server crash, the entry was skipped
 *   by a snapshot).
 */
import { type Entry, type NodeId, ProposalDroppedError, type ReadState } from '../../src/raft/index.ts';
import type { HistoryOp } from '../support/history.ts';
import type { Prng } from './prng.ts';
import { type Command, encodeCommand } from './registers.ts';
import type { SimNode } from './sim-node.ts';

export interface WorkloadHost {
  /** Nodes a client can connect to (up and not decommissioned). */
  reachable(): SimNode[];
  node(id: NodeId): SimNode | undefined;
  /** Runs `event` for the client `delay` time units from now. */
  later(delay: number, event: { kind: 'client'; client: number } | { kind: 'timeout'; op: number }): void;
  trace(line: string): void;
  /** A node accepted a proposal (before it handles the Ready carrying it). */
  proposed(node: SimNode): void;
  /** After a client call into a node, let the node handle its Ready. */
  settle(node: SimNode): void;
}

interface Pending {
  op: HistoryOp;
  opId: number;
  client: number;
  node: NodeId;
  /** For writes: where the proposal landed. For reads: the context bytes. */
  index: number;
  term: number;
  context?: string;
}

export interface WorkloadOptions {
  clients: number;
  keys: number;
  /** Time units a client waits for an answer before giving up (the op becomes `info`). */
  timeout: number;
  /** Mean think time between a client's operations. */
  think: number;
}

export class Workload {
  readonly history: HistoryOp[] = [];
  private clock = 0;
  private nextOpId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly hints: (NodeId | undefined)[];
  private readonly lastRead: Map<string, string | null>[];
  private seq = 0;
  /** False once the run winds down: clients finish what they have but start nothing new. */
  active = true;

  constructor(
    private readonly opts: WorkloadOptions,
    private readonly rng: Prng,
    private readonly host: WorkloadHost,
  ) {
    this.hints = new Array(opts.clients).fill(undefined);
    this.lastRead = Array.from({ length: opts.clients }, () => new Map());
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

  private key(): string {
    return `k${this.rng.int(1, this.opts.keys)}`;
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
    const roll = this.rng.float();
    if (roll < 0.45) {
      this.read(client, nodes);
      return;
    }
    const key = this.key();
    const value = `c${client}-${++this.seq}`;
    const opId = this.nextOpId++;
    const command: Command =
      roll < 0.8
        ? { op: 'write', id: opId, key, value }
        : { op: 'cas', id: opId, key, expect: this.lastRead[client].get(key) ?? null, value };
    this.propose(client, nodes, opId, command);
  }

  /** A write or CAS, sent to the node the client believes leads. */
  propose(client: number, nodes: SimNode[], opId: number, command: Command): void {
    const hinted = this.hinted(client);
    const target = hinted ?? this.rng.pick(nodes);
    const call = this.tick();
    const op: HistoryOp =
      command.op === 'write'
        ? { clientId: client, key: command.key, op: 'write', input: command.value, call, return: 0, status: 'info' }
        : {
            clientId: client,
            key: command.key,
            op: 'cas',
            input: { expect: command.expect, value: command.value },
            call,
            return: 0,
            status: 'info',
          };
    this.history.push(op);
    try {
      const { index, term } = target.raw!.propose(encodeCommand(command));
      this.pending.set(opId, { op, opId, client, node: target.id, index, term });
      this.host.trace(`client c${client} ${describe(command)} -> ${target.id} at index ${index} term ${term}`);
      this.host.later(this.opts.timeout, { kind: 'timeout', op: opId });
      this.host.proposed(target);
      this.host.settle(target);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      op.status = 'fail';
      op.return = this.tick();
      const lead = target.raw!.status().lead;
      this.hints[client] = lead || this.rng.pick(nodes).id;
      this.host.trace(`client c${client} ${describe(command)} -> ${target.id} refused: ${e.message}`);
      this.next(client, this.rng.int(1, 5));
    }
  }

  private read(client: number, nodes: SimNode[]): void {
    const hinted = this.hinted(client);
    const target = hinted && this.rng.chance(0.5) ? hinted : this.rng.pick(nodes);
    const key = this.key();
    const opId = this.nextOpId++;
    const op: HistoryOp = { clientId: client, key, op: 'read', call: this.tick(), return: 0, status: 'info' };
    this.history.push(op);
    const context = `r${opId}`;
    this.pending.set(opId, { op, opId, client, node: target.id, index: 0, term: 0, context });
    this.host.trace(`client c${client} read ${key} via ${target.id} (${context})`);
    this.host.later(this.opts.timeout, { kind: 'timeout', op: opId });
    target.raw!.readIndex(new TextEncoder().encode(context));
    this.host.settle(target);
  }

  /** The node the client believes leads, if it is reachable. */
  private hinted(client: number): SimNode | undefined {
    const id = this.hints[client];
    const node = id === undefined ? undefined : this.host.node(id);
    return node?.up && !node.decommissioned ? node : undefined;
  }

  private finish(p: Pending, status: 'ok' | 'fail' | 'info', why: string): void {
    this.pending.delete(p.opId);
    p.op.status = status;
    p.op.return = this.tick();
    this.host.trace(`client c${p.client} op ${p.opId} ${status}: ${why}`);
    if (status === 'ok' && p.op.op === 'read') this.lastRead[p.client].set(p.op.key, p.op.output ?? null);
    this.next(p.client);
  }

  /** `node` applied `e`: settle the write it proposed at that index, if any. */
  applied(node: SimNode, e: Entry, command: Command | undefined, result: boolean): void {
    for (const p of this.pending.values()) {
      if (p.node !== node.id || p.context !== undefined || p.index !== e.index) continue;
      if (e.term === p.term && command?.id === p.opId) {
        if (p.op.op === 'cas') p.op.output = result;
        this.finish(p, 'ok', `applied at ${e.index}${p.op.op === 'cas' ? (result ? ', swapped' : ', unchanged') : ''}`);
      } else {
        this.finish(p, 'fail', `index ${e.index} holds another entry (term ${e.term})`);
      }
      return;
    }
  }

  readServed(node: SimNode, rs: ReadState): void {
    const context = new TextDecoder().decode(rs.context);
    for (const p of this.pending.values()) {
      if (p.node !== node.id || p.context !== context) continue;
      if (p.op.op === 'read') p.op.output = node.sm.get(p.op.key);
      this.finish(p, 'ok', `read at index ${rs.index} (applied ${node.sm.applied}) -> ${p.op.op === 'read' ? p.op.output : ''}`);
      return;
    }
  }

  /** The node's process died: its clients cannot learn their outcomes. */
  crashed(node: SimNode): void {
    for (const p of [...this.pending.values()]) if (p.node === node.id) this.finish(p, 'info', `${node.id} crashed`);
  }

  /** A snapshot skipped over proposed entries: their fate is unknown to this node's callers. */
  snapshotInstalled(node: SimNode, index: number): void {
    for (const p of [...this.pending.values()]) {
      if (p.node === node.id && p.context === undefined && p.index <= index) this.finish(p, 'info', `skipped by snapshot at ${index}`);
    }
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

function describe(c: Command): string {
  return c.op === 'write' ? `write ${c.key}=${c.value}` : `cas ${c.key} ${c.expect}->${c.value}`;
}
