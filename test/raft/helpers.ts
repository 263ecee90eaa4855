import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type HardState,
  MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  type RaftConfig,
  RawNode,
  type ReadState,
  type Snapshot,
} from '../../src/raft/index.ts';

/** Shared fixtures for the paper tests: nodes with in-memory storage and a tiny network. */

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage'>>;

/** Entries given as terms: terms[i] is the term of the entry at index i+1. */
export function entriesWithTerms(terms: number[], from = 1): Entry[] {
  return terms.map((term, i) => ({ term, index: from + i, type: EntryType.Normal, data: new Uint8Array() }));
}

export function newStorage(conf: ConfState | NodeId[], init: { terms?: number[]; hardState?: HardState } = {}): MemoryStorage {
  const cs = Array.isArray(conf) ? { voters: conf, learners: [] } : conf;
  const storage = new MemoryStorage(cs);
  if (init.terms) storage.append(entriesWithTerms(init.terms));
  if (init.hardState) storage.setHardState(init.hardState);
  return storage;
}

/** A RawNode whose Readys are persisted to its MemoryStorage and applied to a list. */
export class TestNode {
  readonly node: RawNode;
  readonly applied: Entry[] = [];
  readonly readStates: ReadState[] = [];
  readonly snapshots: Snapshot[] = [];

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    readonly opts: NodeOptions = {},
  ) {
    this.node = new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, random: () => 0, ...opts });
  }

  /** Handles every pending Ready as a runtime would; returns the messages to send. */
  drain(): Message[] {
    const out: Message[] = [];
    while (this.node.hasReady()) {
      const rd = this.node.ready();
      if (rd.snapshot) {
        this.storage.applySnapshot(rd.snapshot);
        this.snapshots.push(rd.snapshot);
      }
      this.storage.append(rd.entries);
      if (rd.hardState) this.storage.setHardState(rd.hardState);
      out.push(...rd.messages);
      for (const e of rd.committedEntries) {
        if (e.type === EntryType.ConfChange) {
          this.storage.setConfState(this.node.applyConfChange(decodeConfChange(e.data)));
        }
        this.applied.push(e);
      }
      this.readStates.push(...rd.readStates);
      this.node.advance(rd);
    }
    return out;
  }

  status() {
    return this.node.status();
  }

  /** Terms of the durable log, index 1 first (after a snapshot: from firstIndex). */
  logTerms(): number[] {
    const terms: number[] = [];
    for (let i = this.storage.firstIndex(); i <= this.storage.lastIndex(); i++) terms.push(this.storage.term(i));
    return terms;
  }
}

/** A single node driven by hand: step messages in, read messages out. */
export function soloNode(id: NodeId, storage: MemoryStorage, opts: NodeOptions = {}): TestNode {
  const n = new TestNode(id, storage, opts);
  n.drain();
  return n;
}

/** A message with every field defaulted, for stepping into a node by hand. */
export function msg(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  return { term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m };
}

/** The interesting fields of messages, for exact assertions. */
export function brief(ms: Message[], fields: (keyof Message)[] = []): Record<string, unknown>[] {
  return ms.map((m) => {
    const out: Record<string, unknown> = { type: m.type, from: m.from, to: m.to, term: m.term };
    for (const f of fields) out[f] = m[f];
    return out;
  });
}

export type NetworkOptions = NodeOptions & {
  learners?: NodeId[];
  storages?: Record<NodeId, MemoryStorage>;
  perNode?: Record<NodeId, NodeOptions>;
};

/**
 * Nodes connected by a synchronous network. `deliver` runs messages to quiescence; filters
 * drop messages (partitions, lost types).
 */
export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly cuts = new Set<string>();
  private readonly droppedTypes = new Set<Message['type']>();
  /** Every message delivered, in order. */
  readonly trace: Message[] = [];

  constructor(ids: NodeId[], opts: NetworkOptions = {}) {
    const { learners = [], storages = {}, perNode = {}, ...nodeOpts } = opts;
    const voters = ids.filter((id) => !learners.includes(id));
    for (const id of ids) {
      const storage = storages[id] ?? newStorage({ voters, learners });
      this.nodes.set(id, new TestNode(id, storage, { ...nodeOpts, ...perNode[id] }));
    }
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Crash and restart from durable state only: whatever was not persisted is gone. */
  restart(id: NodeId): TestNode {
    const old = this.get(id);
    const fresh = new TestNode(id, old.storage, old.opts);
    this.nodes.set(id, fresh);
    return fresh;
  }

  add(node: TestNode): void {
    this.nodes.set(node.id, node);
  }

  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}>${b}`);
    this.cuts.add(`${b}>${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  dropType(type: Message['type']): void {
    this.droppedTypes.add(type);
  }

  heal(): void {
    this.cuts.clear();
    this.droppedTypes.clear();
  }

  /** A test's own fault: return undefined to drop the message, or the message to deliver. */
  intercept: ((m: Message) => Message | undefined) | undefined;

  private passes(m: Message): boolean {
    return !this.cuts.has(`${m.from}>${m.to}`) && !this.droppedTypes.has(m.type) && this.nodes.has(m.to);
  }

  /** Drains every node and delivers until nothing moves. */
  stabilize(): void {
    this.deliver([]);
  }

  deliver(initial: Message[]): void {
    let queue = initial;
    for (let rounds = 0; rounds < 10_000; rounds++) {
      for (const n of this.nodes.values()) queue.push(...n.drain());
      if (queue.length === 0) return;
      const batch = queue
        .filter((m) => this.passes(m))
        .flatMap((m) => {
          const delivered = this.intercept ? this.intercept(m) : m;
          return delivered ? [delivered] : [];
        });
      queue = [];
      for (const m of batch) {
        this.trace.push(m);
        this.get(m.to).node.step(m);
      }
    }
    throw new Error('network did not stabilize');
  }

  campaign(id: NodeId): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  /** Campaigns until `id` leads (a first attempt may only teach it a higher term). */
  elect(id: NodeId, attempts = 3): void {
    for (let i = 0; i < attempts && this.get(id).status().role !== 'leader'; i++) this.campaign(id);
    if (this.get(id).status().role !== 'leader') throw new Error(`${id} could not win an election`);
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.get(id).node.tick();
      this.stabilize();
    }
  }

  propose(id: NodeId, data: string): { index: number; term: number } {
    const r = this.get(id).node.propose(enc(data));
    this.stabilize();
    return r;
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.status().role === 'leader').map((n) => n.id);
  }
}

export function appliedData(n: TestNode): string[] {
  return n.applied.filter((e) => e.data.length > 0 && e.type === EntryType.Normal).map((e) => dec(e.data));
}

export { MessageType };

/** Campaigns and grants every other voter's vote by hand; returns the leader's first messages. */
export function electByHand(n: TestNode): Message[] {
  n.node.campaign();
  const requests = n.drain().filter((m) => m.type === MessageType.Vote || m.type === MessageType.PreVote);
  for (const req of requests) {
    const type = req.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
    n.node.step(msg({ type, from: req.to, to: n.id, term: req.term }));
  }
  const out = n.drain();
  if (n.status().role !== 'leader') {
    // PreVote: the pre-election produced real vote requests.
    return electAfterPreVote(n, out);
  }
  return out;
}

function electAfterPreVote(n: TestNode, out: Message[]): Message[] {
  for (const req of out.filter((m) => m.type === MessageType.Vote)) {
    n.node.step(msg({ type: MessageType.VoteResp, from: req.to, to: n.id, term: req.term }));
  }
  return n.drain();
}
