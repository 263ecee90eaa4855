/**
 * The simulated network: which directed links are cut (partitions) and what the weather does to
 * each message (drop, duplicate, delay; reordering falls out of independent delays). Messages
 * are copied on send, as serialization would, so no two nodes ever share a mutable object.
 */
import type { Message, NodeId } from '../../src/raft/index.ts';
import type { Prng } from './prng.ts';

export interface Weather {
  drop: number;
  duplicate: number;
  /** Delay in time units, uniform in [minDelay, maxDelay]. */
  minDelay: number;
  maxDelay: number;
  /** Probability of a long delay (up to `longDelay`), which reorders messages heavily. */
  slow: number;
  longDelay: number;
}

export const CALM: Weather = { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 3, slow: 0, longDelay: 0 };

export const PartitionShape = {
  /** Two groups that cannot talk to each other. */
  Halves: 'halves',
  /** One node (the leader, when there is one) cut off from everyone. */
  IsolateLeader: 'isolate-leader',
  /** Some directed links cut in one direction only. */
  OneWay: 'one-way',
  /** Two groups joined only through one node that talks to both. */
  Bridge: 'bridge',
  /** Every node talks only to its two neighbours on a circle. */
  Ring: 'ring',
} as const;
export type PartitionShape = (typeof PartitionShape)[keyof typeof PartitionShape];

export class Network {
  weather: Weather = CALM;
  private cut = new Set<string>();
  /** A readable description of the current partition, for traces. */
  description = 'healed';
  /** Counts partitions, so that a partition's scheduled heal does not end a later one. */
  generation = 0;

  canSend(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
    this.description = 'healed';
  }

  /** Cuts links in `shape` among `nodes`; `leader` is the target of isolate-leader. */
  partition(shape: PartitionShape, nodes: readonly NodeId[], leader: NodeId | undefined, rng: Prng): void {
    this.cut.clear();
    this.generation++;
    const block = (a: NodeId, b: NodeId) => this.cut.add(`${a}>${b}`);
    const both = (a: NodeId, b: NodeId) => {
      block(a, b);
      block(b, a);
    };
    const order = rng.shuffle(nodes);
    switch (shape) {
      case PartitionShape.Halves: {
        const k = rng.int(1, Math.max(1, order.length - 1));
        const [a, b] = [order.slice(0, k), order.slice(k)];
        for (const x of a) for (const y of b) both(x, y);
        this.description = `halves ${a.join(',')} | ${b.join(',')}`;
        return;
      }
      case PartitionShape.IsolateLeader: {
        const victim = leader ?? order[0];
        for (const y of nodes) if (y !== victim) both(victim, y);
        this.description = `isolate ${victim}`;
        return;
      }
      case PartitionShape.OneWay: {
        const links: string[] = [];
        for (const x of order) {
          for (const y of order) {
            if (x !== y && rng.chance(0.35)) {
              block(x, y);
              links.push(`${x}-/->${y}`);
            }
          }
        }
        this.description = `one-way ${links.join(' ') || '(none)'}`;
        return;
      }
      case PartitionShape.Bridge: {
        const bridge = order[0];
        const rest = order.slice(1);
        const k = Math.max(1, Math.floor(rest.length / 2));
        const [a, b] = [rest.slice(0, k), rest.slice(k)];
        for (const x of a) for (const y of b) both(x, y);
        this.description = `bridge ${a.join(',')} <-${bridge}-> ${b.join(',')}`;
        return;
      }
      case PartitionShape.Ring: {
        const n = order.length;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const d = Math.min((i - j + n) % n, (j - i + n) % n);
            if (d > 1) block(order[i], order[j]);
          }
        }
        this.description = `ring ${order.join('-')}`;
        return;
      }
    }
  }

  /** Cuts exactly the directed `links` (replacing any partition), described as `description`. */
  cutLinks(links: readonly (readonly [NodeId, NodeId])[], description: string): void {
    this.cut.clear();
    this.generation++;
    for (const [a, b] of links) this.cut.add(`${a}>${b}`);
    this.description = description;
  }

  /**
   * The delivery delays for one message: empty when it is dropped, two entries when it is
   * duplicated. Cut links are checked by the caller at send and at delivery.
   */
  delays(rng: Prng): number[] {
    const w = this.weather;
    if (rng.chance(w.drop)) return [];
    const one = () => (rng.chance(w.slow) ? rng.int(w.maxDelay, Math.max(w.maxDelay, w.longDelay)) : rng.int(w.minDelay, w.maxDelay));
    return rng.chance(w.duplicate) ? [one(), one()] : [one()];
  }
}

/** A copy of a message as the receiver would decode it. */
export function copyMessage(m: Message): Message {
  const out: Message = {
    ...m,
    entries: m.entries.map((e) => ({ term: e.term, index: e.index, type: e.type, data: e.data.slice() })),
  };
  if (m.context) out.context = m.context.slice();
  if (m.snapshot) {
    const { meta, data } = m.snapshot;
    out.snapshot = {
      meta: { index: meta.index, term: meta.term, conf: { voters: [...meta.conf.voters], learners: [...meta.conf.learners] } },
      data: data.slice(),
    };
  }
  return out;
}

export function describeMessage(m: Message): string {
  const parts = [`${m.type} ${m.from}->${m.to} term ${m.term}`];
  if (m.index || m.logTerm) parts.push(`index ${m.index} logTerm ${m.logTerm}`);
  if (m.entries.length > 0) parts.push(`entries ${m.entries[0].index}..${m.entries[m.entries.length - 1].index}`);
  if (m.commit) parts.push(`commit ${m.commit}`);
  if (m.reject) parts.push(`reject hint ${m.rejectHint}`);
  if (m.snapshot) parts.push(`snapshot ${m.snapshot.meta.index}`);
  return parts.join(' ');
}
