/**
 * Partition shapes, as pure functions of the membership (and the leader): each returns the cuts
 * to install and a one-line description such as `n1 | n2 n3`.
 */
import { type Cut, cutBetween } from '../net/firewall.ts';
import type { Random } from '../random.ts';

export const PARTITIONS = ['isolate-leader', 'halves', 'majorities-ring', 'bridge', 'asymmetric'] as const;
export type PartitionKind = (typeof PARTITIONS)[number];

export interface Partition {
  kind: PartitionKind;
  detail: string;
  cuts: Cut[];
  /** Nodes on the losing side (for the report). */
  nodes: string[];
}

const majority = (n: number) => Math.floor(n / 2) + 1;

/** The leader alone on one side, everyone else on the other. */
export function isolateLeader(members: readonly string[], leader: string): Partition {
  const rest = members.filter((m) => m !== leader);
  return { kind: 'isolate-leader', detail: `${leader} | ${rest.join(' ')}`, cuts: cutBetween([leader], rest), nodes: [leader] };
}

/** A random minority against the majority. */
export function halves(members: readonly string[], rnd: Random): Partition {
  const order = rnd.shuffle(members);
  const small = order.slice(0, members.length - majority(members.length));
  const big = order.slice(small.length);
  return { kind: 'halves', detail: `${small.join(' ')} | ${big.join(' ')}`, cuts: cutBetween(small, big), nodes: small };
}

/**
 * Two sides that share one node, which hears both: `a | m | b`. Both sides can elect through m,
 * but never agree with each other directly.
 */
export function bridge(members: readonly string[], rnd: Random): Partition {
  const order = rnd.shuffle(members);
  const mid = Math.floor(order.length / 2);
  const a = order.slice(0, mid);
  const m = order[mid];
  const b = order.slice(mid + 1);
  return { kind: 'bridge', detail: `${a.join(' ')} | ${m} | ${b.join(' ')}`, cuts: cutBetween(a, b), nodes: [m] };
}

/**
 * Nodes in a random ring; each hears only its nearest neighbours, just enough for a majority,
 * so every node sees a majority but no two see the same one (Jepsen's majorities-ring). Below
 * four nodes every majority overlaps completely, so this degrades to a bridge.
 */
export function majoritiesRing(members: readonly string[], rnd: Random): Partition {
  const n = members.length;
  if (n < 4) return { ...bridge(members, rnd), kind: 'majorities-ring' };
  const ring = rnd.shuffle(members);
  const reach = Math.ceil((majority(n) - 1) / 2);
  const cuts: Cut[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const d = Math.min(Math.abs(i - j), n - Math.abs(i - j));
      if (d > reach) cuts.push({ from: ring[j], to: ring[i], mode: 'all' });
    }
  }
  return { kind: 'majorities-ring', detail: `ring ${ring.join(' ')} (each hears ${reach} either side)`, cuts, nodes: [] };
}

/**
 * One node's Raft messages stop in one direction only: `mute` (the others stop hearing it, it
 * still hears them) or `deaf` (it stops hearing them, they still hear it).
 */
export function asymmetric(members: readonly string[], victim: string, rnd: Random): Partition {
  const rest = members.filter((m) => m !== victim);
  const mute = rnd.chance(0.5);
  const cuts: Cut[] = rest.map((r) => (mute ? { from: victim, to: r, mode: 'messages' } : { from: r, to: victim, mode: 'messages' }));
  const detail = mute ? `${rest.join(' ')} do not hear ${victim}; ${victim} hears them` : `${victim} does not hear ${rest.join(' ')}; they hear it`;
  return { kind: 'asymmetric', detail, cuts, nodes: [victim] };
}

export function makePartition(kind: PartitionKind, members: readonly string[], leader: string | undefined, rnd: Random): Partition {
  const victim = leader && rnd.chance(0.7) ? leader : rnd.pick(members);
  switch (kind) {
    case 'isolate-leader':
      return isolateLeader(members, leader ?? victim);
    case 'halves':
      return halves(members, rnd);
    case 'majorities-ring':
      return majoritiesRing(members, rnd);
    case 'bridge':
      return bridge(members, rnd);
    case 'asymmetric':
      return asymmetric(members, victim, rnd);
  }
}
