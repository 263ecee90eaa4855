/**
 * Simulated Redis Cluster clients of a multi-group run (issue 13). Each runs one operation at a
 * time, as workload.ts's do, and routes it as a cluster client does: the key's slot
 * (keyHashSlot) names a group in the client's copy of the slot map, and the client sends to the
 * node it believes leads that group (learned from refusals; at first a replica the map lists).
 * A write's entry that reaches a group not owning the key applies nothing and comes back
 * `moved` (src/kv/owned.ts); a read checks `ownsKey` after its barrier, as the RESP guard does.
 * Either way the client refreshes its map and retries: the attempt is `fail` in the history
 * (it did nothing), a timeout or crash `info`, as in workload.ts.
 *
 * Keys are registers (k*: GET, SET, DEL, WATCH + MULTI/SET/EXEC) and counters (n*: GET, INCR,
 * DEL); a key's history is one history whichever groups served it, so linearizability is
 * checked per key across splits.
 */
import type { KvOp, KvResult } from '../../../src/kv/index.ts';
import { keyHashSlot } from '../../../src/kv/index.ts';
import { OutcomeUnknownError, ProposalFailedError } from '../../../src/node/waiters.ts';
import type { NodeId } from '../../../src/raft/index.ts';
import { findGroup, groupOfSlot, type SlotMap } from '../../../src/shard/index.ts';
import type { HistoryOp } from '../../support/history.ts';
import type { Prng } from '../prng.ts';
import { RefusedError, type SimNode } from '../sim-node.ts';
import type { GroupEvent } from './events.ts';
import type { GroupId, HostNode } from './replicas.ts';

export interface ClientsHost {
  readonly time: number;
  readonly hosts: ReadonlyMap<NodeId, HostNode>;
  /** The slot map now (what a client gets when it refreshes). */
  map(): SlotMap;
  later(delay: number, ev: GroupEvent): void;
  trace(line: string): void;
}

interface Pending {
  op: HistoryOp;
  opId: number;
  client: number;
  node: NodeId;
  group: GroupId;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class GroupClients {
  readonly history: HistoryOp[] = [];
  readonly keys: string[];
  private clock = 0;
  private nextOpId = 1;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly maps: SlotMap[];
  /** Per client, the leader it believes each group has. */
  private readonly leaders: Map<GroupId, NodeId>[];
  active = true;

  constructor(
    private readonly opts: { clients: number; keys: number; counterKeys: number; timeout: number; think: number; readUnowned?: boolean },
    private readonly rng: Prng,
    private readonly host: ClientsHost,
  ) {
    this.keys = [...Array.from({ length: opts.keys }, (_, i) => `k${i + 1}`), ...Array.from({ length: opts.counterKeys }, (_, i) => `n${i + 1}`)];
    this.maps = new Array(opts.clients).fill(host.map());
    this.leaders = Array.from({ length: opts.clients }, () => new Map());
  }

  start(): void {
    for (let c = 0; c < this.opts.clients; c++) this.host.later(this.rng.int(1, this.opts.think), { kind: 'client', client: c });
  }

  private tick(): number {
    return ++this.clock;
  }

  private next(client: number, delay = this.rng.int(1, 2 * this.opts.think)): void {
    if (this.active) this.host.later(delay, { kind: 'client', client });
  }

  /** The client's next operation: route the key, then read or write through that group's replica. */
  act(client: number): void {
    if (!this.active) return;
    const key = this.rng.pick(this.keys);
    const group = groupOfSlot(this.maps[client], keyHashSlot(key));
    const replica = this.route(client, group);
    if (!replica) {
      // Nobody the map names answers: a cluster client refreshes its map and tries later.
      this.maps[client] = this.host.map();
      this.next(client);
      return;
    }
    const roll = this.rng.float();
    if (roll < 0.45) {
      this.read(client, group, replica, key);
      return;
    }
    const value = `c${client}-${++this.seq}`;
    const k = enc.encode(key);
    if (roll < 0.55) this.write(client, group, replica, key, { op: 'write', input: null }, [{ type: 'del', keys: [k] }], `del ${key}`);
    else if (key[0] === 'n') this.write(client, group, replica, key, { op: 'incr' }, [{ type: 'incrby', key: k, delta: 1n }], `incr ${key}`);
    else if (roll > 0.85) {
      // WATCH key, GET key, MULTI SET EXEC: a compare-and-set against what the replica held.
      const now = replica.now();
      const version = replica.kv!.version(k, now);
      const held = replica.kv!.get(k, now);
      const expect = held === null ? null : dec.decode(held);
      const set: KvOp = { type: 'set', key: k, value: enc.encode(value) };
      this.write(client, group, replica, key, { op: 'cas', input: { expect, value } }, [set], `cas ${key} ${expect}->${value}`, [{ key: k, version }]);
    } else this.write(client, group, replica, key, { op: 'write', input: value }, [{ type: 'set', key: k, value: enc.encode(value) }], `set ${key}=${value}`);
  }

  /** The replica of `group` the client sends to: its leader as the client knows it, else one the map lists. */
  private route(client: number, group: GroupId): SimNode | undefined {
    const hosting = (id: NodeId | undefined) => {
      const h = id === undefined ? undefined : this.host.hosts.get(id);
      const r = h?.up ? h.replicas.get(group) : undefined;
      return r?.up ? r : undefined;
    };
    const known = hosting(this.leaders[client].get(group));
    if (known) return known;
    const g = findGroup(this.maps[client], group);
    const listed = [...(g?.voters ?? []), ...(g?.learners ?? [])].map(hosting).filter((r): r is SimNode => r !== undefined);
    return listed.length > 0 ? this.rng.pick(listed) : undefined;
  }

  private begin(client: number, group: GroupId, replica: SimNode, key: string, fields: Partial<HistoryOp>, what: string): Pending {
    const h = { clientId: client, key, op: 'read', call: this.tick(), return: 0, status: 'info', ...fields } as HistoryOp;
    this.history.push(h);
    const p: Pending = { op: h, opId: this.nextOpId++, client, node: replica.id, group };
    this.pending.set(p.opId, p);
    this.host.trace(`client c${client} ${what} -> g${group} on ${replica.id} (op ${p.opId})`);
    this.host.later(this.opts.timeout, { kind: 'timeout', op: p.opId });
    return p;
  }

  private write(
    client: number,
    group: GroupId,
    replica: SimNode,
    key: string,
    fields: Partial<HistoryOp>,
    ops: KvOp[],
    what: string,
    watch?: { key: Uint8Array; version: number }[],
  ): void {
    const p = this.begin(client, group, replica, key, fields, what);
    replica.propose(ops, this.host.time + this.opts.timeout, watch).then(
      (r) => this.applied(p, r),
      (err: Error) => {
        if (err instanceof RefusedError) {
          if (err.leader) this.leaders[client].set(group, err.leader);
          else this.leaders[client].delete(group);
          this.settled(p, 'fail', `refused: ${err.message}`, 1);
        } else if (err instanceof ProposalFailedError) this.settled(p, 'fail', err.message);
        else if (err instanceof OutcomeUnknownError) this.settled(p, 'info', err.message);
        else this.settled(p, 'info', `${err.name}: ${err.message}`);
      },
    );
  }

  private applied(p: Pending, r: KvResult[]): void {
    const res = r[0];
    if (res?.type === 'moved') {
      this.moved(p, res.slot);
      return;
    }
    this.leaders[p.client].set(p.group, p.node);
    if (p.op.op === 'incr') p.op.output = res?.type === 'int' ? Number(res.value) : 'error';
    if (p.op.op === 'cas') {
      if (res?.type === 'aborted') {
        this.settled(p, 'fail', 'aborted');
        return;
      }
      p.op.output = true;
    }
    this.settled(p, res?.type === 'error' ? 'fail' : 'ok', `applied: ${res?.type}`);
  }

  /** The group does not own the key: nothing happened; refresh the map and retry soon (MOVED / TRYAGAIN). */
  private moved(p: Pending, slot: number): void {
    this.maps[p.client] = this.host.map();
    this.leaders[p.client].delete(p.group);
    this.settled(p, 'fail', `moved (slot ${slot}): map epoch ${this.maps[p.client].epoch}`, 1);
  }

  private read(client: number, group: GroupId, replica: SimNode, key: string): void {
    const p = this.begin(client, group, replica, key, { op: 'read' }, `read ${key}`);
    const incarnation = replica.incarnation;
    replica.barrier(this.host.time + this.opts.timeout).then(
      () => {
        const host = this.host.hosts.get(replica.id)!;
        if (!this.pending.has(p.opId) || host.replicas.get(group) !== replica || !replica.up || replica.incarnation !== incarnation) return;
        const k = enc.encode(key);
        if (!this.opts.readUnowned && !replica.kv!.ownsKey(k)) {
          this.moved(p, keyHashSlot(key));
          return;
        }
        const v = replica.kv!.get(k, replica.now());
        const output = v === null ? null : dec.decode(v);
        if (p.op.op === 'read') p.op.output = output;
        this.settled(p, 'ok', `read at applied ${replica.applied} -> ${output}`);
      },
      (err: Error) => this.settled(p, 'info', `${err.name}: ${err.message}`),
    );
  }

  private settled(p: Pending, status: 'ok' | 'fail' | 'info', why: string, delay?: number): void {
    if (!this.pending.has(p.opId)) return;
    this.pending.delete(p.opId);
    p.op.status = status;
    p.op.return = this.tick();
    this.host.trace(`client c${p.client} op ${p.opId} ${status}: ${why}`);
    this.next(p.client, delay === undefined ? undefined : this.rng.int(1, 5));
  }

  /** Replicas of `node` (of `group` only, when given) lost their process: their clients cannot learn outcomes. */
  crashed(node: NodeId, group?: GroupId): void {
    for (const p of [...this.pending.values()]) if (p.node === node && (group === undefined || p.group === group)) this.settled(p, 'info', `${node} crashed`);
  }

  timeout(opId: number): void {
    const p = this.pending.get(opId);
    if (p) this.settled(p, 'info', 'timed out');
  }

  /** Ends the run: whatever is pending stays indeterminate. */
  close(): void {
    this.active = false;
    for (const p of [...this.pending.values()]) this.settled(p, 'info', 'run ended');
  }

  /** A read after every operation ended (healed, every group live): no acknowledged write may be missing. */
  finalRead(key: string, value: string | null): void {
    this.history.push({ clientId: 'final', key, op: 'read', output: value, call: this.tick(), return: this.tick(), status: 'ok' });
  }
}
