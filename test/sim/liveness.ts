/**
 * The liveness check after every fault has healed: a leader must emerge and commit a new write,
 * and every member (voters and learners) must apply it, within a bounded time.
 */
import type { ConfState, NodeId } from '../../src/raft/index.ts';
import { Invariant, InvariantViolation, type SafetyMonitor } from './invariants.ts';
import { ELECTION_TICK, TICK } from './schedule.ts';
import type { SimNode } from './sim-node.ts';
import { TraceKind as K, type TraceKind } from './trace.ts';

const ELECTION = ELECTION_TICK * TICK;
/** Time allowed after healing: generous, since a lagging learner may need a snapshot first. */
export const LIVENESS_WINDOW = 60 * ELECTION;

export interface LivenessHost {
  readonly time: number;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly conf: { index: number; conf: ConfState };
  readonly monitor: SafetyMonitor;
  leader(): SimNode | undefined;
  settle(node: SimNode): void;
  trace(kind: TraceKind, text: string): void;
  /** Runs one more event. */
  next(): void;
}

/** Runs the healed cluster until a new write is applied on every member; throws if it never is. */
export function awaitLiveness(host: LivenessHost): void {
  const deadline = host.time + LIVENESS_WINDOW;
  let live: { index: number; term: number } | undefined;
  let nextTry = host.time;
  const committed = () => live !== undefined && host.monitor.committedAt(live.index) === live.term;
  const converged = () => {
    if (!live || !committed()) return false;
    const { voters, learners } = host.conf.conf;
    const index = live.index;
    return [...voters, ...learners].every((id) => {
      const n = host.nodes.get(id);
      return n?.up && n.sm.applied >= index;
    });
  };
  while (!converged()) {
    if (host.time > deadline) throw new InvariantViolation(Invariant.Liveness, report(host));
    if (host.time >= nextTry && !committed()) {
      live = propose(host) ?? live;
      nextTry = host.time + ELECTION;
    }
    host.next();
  }
  host.trace(K.Cluster, `liveness: write at index ${live!.index} applied on every member`);
}

function propose(host: LivenessHost): { index: number; term: number } | undefined {
  const leader = host.leader();
  if (!leader?.raw) return undefined;
  try {
    const data = new TextEncoder().encode(JSON.stringify({ op: 'write', id: 0, key: 'live', value: `t${host.time}` }));
    const at = leader.raw.propose(data);
    host.trace(K.Cluster, `liveness write proposed on ${leader.id} at index ${at.index} term ${at.term}`);
    host.settle(leader);
    return at;
  } catch (e) {
    host.trace(K.Cluster, `liveness write refused by ${leader.id}: ${(e as Error).message}`);
    return undefined;
  }
}

function report(host: LivenessHost): string {
  const parts = [...host.nodes.values()]
    .filter((n) => !n.decommissioned)
    .map((n) => (n.raw ? `${n.id}: ${n.role} term ${n.term} applied ${n.sm.applied} last ${n.disk.lastIndex()}` : `${n.id}: down`));
  const { voters, learners } = host.conf.conf;
  return `no new write applied on every member within ${LIVENESS_WINDOW} time units after healing (voters ${voters.join(',')}, learners ${learners.join(',') || '-'}; ${parts.join('; ')})`;
}
