/**
 * The liveness check after every fault has healed: a leader must emerge and commit a new write,
 * and every member (voters and learners) must apply it, within a bounded time.
 */
import type { KvOp } from '../../src/kv/index.ts';
import type { ConfState, NodeId } from '../../src/raft/index.ts';
import { Invariant, InvariantViolation, type SafetyMonitor } from './invariants.ts';
import { ELECTION_TICK, TICK } from './schedule.ts';
import type { SimNode } from './sim-node.ts';
import { TraceKind as K, type TraceKind } from './trace.ts';
import { LIVENESS_KEY } from './workload.ts';

const ELECTION = ELECTION_TICK * TICK;
/** Time allowed after healing: generous, since a lagging learner may need a snapshot first. */
export const LIVENESS_WINDOW = 60 * ELECTION;

export interface LivenessHost {
  readonly time: number;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly conf: { index: number; conf: ConfState };
  readonly monitor: SafetyMonitor;
  leader(): SimNode | undefined;
  trace(kind: TraceKind, text: string): void;
  /** Runs one more event. */
  next(): Promise<void>;
}

/** Runs the healed cluster until a new write is applied on every member; throws if it never is. */
export async function awaitLiveness(host: LivenessHost): Promise<void> {
  const deadline = host.time + LIVENESS_WINDOW;
  /** The leader's applied index once it applied the write (so the write is at or below it). */
  let live: number | undefined;
  let waiting = false;
  let nextTry = host.time;
  const converged = () => {
    if (live === undefined) return false;
    const { voters, learners } = host.conf.conf;
    return [...voters, ...learners].every((id) => {
      const n = host.nodes.get(id);
      return n?.up && n.applied >= live!;
    });
  };
  while (!converged()) {
    if (host.time > deadline) throw new InvariantViolation(Invariant.Liveness, report(host));
    // A write on a node that crashed or was removed never settles: try again after a while.
    if (waiting && host.time >= nextTry + 2 * ELECTION) waiting = false;
    if (host.time >= nextTry && live === undefined && !waiting) {
      const leader = host.leader();
      if (leader) {
        waiting = true;
        host.trace(K.Cluster, `liveness write proposed on ${leader.id}`);
        const set: KvOp = { type: 'set', key: enc.encode(LIVENESS_KEY), value: enc.encode(`t${host.time}`) };
        leader.propose([set], host.time + 2 * ELECTION).then(
          () => {
            live = leader.applied;
            waiting = false;
          },
          (e: Error) => {
            host.trace(K.Cluster, `liveness write on ${leader.id} failed: ${e.message}`);
            waiting = false;
          },
        );
      }
      nextTry = host.time + ELECTION;
    }
    await host.next();
  }
  host.trace(K.Cluster, `liveness: write at index ${live} applied on every member`);
}

const enc = new TextEncoder();

function report(host: LivenessHost): string {
  const parts = [...host.nodes.values()]
    .filter((n) => !n.decommissioned)
    .map((n) => (n.up ? `${n.id}: ${n.role} term ${n.term} applied ${n.applied} last ${n.disk.log.lastIndex()}` : `${n.id}: down`));
  const { voters, learners } = host.conf.conf;
  return `no new write applied on every member within ${LIVENESS_WINDOW} time units after healing (voters ${voters.join(',')}, learners ${learners.join(',') || '-'}; ${parts.join('; ')})`;
}
