/**
 * The events of a multi-group run's queue. Messages, reports, disk completions and Ready loop
 * runs name their group (the transport tags every message by group); ticks, crashes and
 * restarts are the node's, since its groups share one process.
 */
import type { Message, NodeId } from '../../../src/raft/index.ts';
import type { ScheduledFault } from '../schedule.ts';
import type { GroupId } from './replicas.ts';

export type GroupEvent =
  | { kind: 'tick'; node: NodeId }
  | { kind: 'deliver'; group: GroupId; msg: Message }
  | { kind: 'report'; group: GroupId; node: NodeId; about: NodeId; what: 'unreachable' | 'snap-ok' | 'snap-fail' }
  | { kind: 'client'; client: number }
  | { kind: 'timeout'; op: number }
  | { kind: 'fault'; fault: ScheduledFault }
  | { kind: 'heal'; partition: number }
  | { kind: 'weather-end' }
  | { kind: 'restart'; node: NodeId; life: number }
  /** The oldest write queued on the node's disk by this replica is durable. */
  | { kind: 'persisted'; node: NodeId; group: GroupId; incarnation: number }
  | { kind: 'ready'; node: NodeId; group: GroupId; incarnation: number; run: () => void }
  /** The next step of a replica move (reshard.ts). */
  | { kind: 'move'; move: number; k: number }
  /** The operator drops a replica removed from its group, once that is safe. */
  | { kind: 'drop'; node: NodeId; group: GroupId };
