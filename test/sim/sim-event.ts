/**
 * The events of the simulated world's queue, in one union so the parts that schedule them
 * (cluster.ts, wire.ts, lifecycle.ts, membership.ts) and the loop that handles them agree on
 * their shape without importing each other.
 */
import type { Message, NodeId } from '../../src/raft/index.ts';
import type { ScheduledFault } from './schedule.ts';

export type SimEvent =
  | { kind: 'tick'; node: NodeId }
  | { kind: 'deliver'; msg: Message }
  | { kind: 'report'; node: NodeId; about: NodeId; what: 'unreachable' | 'snap-ok' | 'snap-fail' }
  | { kind: 'client'; client: number }
  | { kind: 'timeout'; op: number }
  | { kind: 'fault'; fault: ScheduledFault }
  | { kind: 'heal'; partition: number }
  | { kind: 'churn'; fault: ScheduledFault; until: number; k: number }
  /** The next step of a targeted scenario (targeted.ts). */
  | { kind: 'scenario'; fault: ScheduledFault; k: number }
  | { kind: 'weather-end' }
  | { kind: 'restart'; node: NodeId; incarnation: number }
  | { kind: 'decommission'; node: NodeId }
  | { kind: 'crash'; node: NodeId; incarnation: number; why: string; downtime: number }
  /** The oldest write queued on a node's disk is durable. */
  | { kind: 'persisted'; node: NodeId; incarnation: number }
  /** A node's Ready loop runs (its setImmediate). */
  | { kind: 'ready'; node: NodeId; incarnation: number; run: () => void };

/** The node an event is handled by, if it is one whose event loop can stall. */
export function eventNode(ev: SimEvent): NodeId | undefined {
  switch (ev.kind) {
    case 'tick':
    case 'report':
    case 'persisted':
    case 'ready':
      return ev.node;
    case 'deliver':
      return ev.msg.to;
    default:
      return undefined;
  }
}
