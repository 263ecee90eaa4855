/**
 * Elections counted per bench load (issue 15 target 6: no leader election during any load
 * unless the bench causes it). Every node's Raft term is read from /v1/cluster before and
 * after each load: a term only moves when some node starts an election (pre-vote keeps a
 * partitioned node from bumping it), so the largest rise over the nodes is the number of
 * elections in the window. The failover trials cause elections on purpose and are not watched.
 */
import type { ClusterHarness } from '../support/cluster-harness.ts';

export interface ElectionWindow {
  /** The load, as the table names it (e.g. `SET closed-loop 64`). */
  load: string;
  /** Node id -> term; a node that did not answer is missing. */
  before: Record<string, number>;
  after: Record<string, number>;
}

/** Every running node's term; a node that does not answer within the harness timeout is left out. */
export async function terms(h: ClusterHarness): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const sts = await Promise.all(h.running().map(async (n) => [n.id, await h.status(n)] as const));
  for (const [id, st] of sts) if (st) out[id] = st.term;
  return out;
}

/**
 * Elections in one window: the largest term rise over the nodes seen at both ends. A node
 * missing at either end cannot be judged; if no node was seen at both ends the answer is NaN.
 */
export function electionsIn(w: ElectionWindow): number {
  const rises = Object.keys(w.after)
    .filter((id) => w.before[id] !== undefined)
    .map((id) => w.after[id]! - w.before[id]!);
  return rises.length === 0 ? Number.NaN : Math.max(0, ...rises);
}

/** Runs `fn` (one load) with the cluster's terms read around it, and records the window in `into`. */
export async function watchElections<T>(h: ClusterHarness, load: string, into: ElectionWindow[], fn: () => Promise<T>): Promise<T> {
  const before = await terms(h);
  try {
    return await fn();
  } finally {
    into.push({ load, before, after: await terms(h) });
  }
}

/** One line per window for the table: `load: n elections (term a -> b)`. */
export function describeWindow(w: ElectionWindow): string {
  const n = electionsIn(w);
  const lo = Math.min(...Object.values(w.before));
  const hi = Math.max(...Object.values(w.after));
  return `${Number.isNaN(n) ? '?' : n} (term ${lo}${hi !== lo ? ` -> ${hi}` : ''})`;
}
