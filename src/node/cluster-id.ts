/**
 * Cluster identity: which cluster a node's data belongs to, so that a node never mixes its log
 * with another cluster's (etcd's "cluster ID mismatch").
 *
 * The id is made once, when a cluster is bootstrapped, stored with the log (LevelStorage
 * setClusterId) and presented in every peer handshake (transport/handshake.ts); two nodes with
 * different ids refuse each other's links. Where it comes from:
 *
 * - A single node bootstrapping alone (no --peers) makes a random one.
 * - Nodes bootstrapping together (--peers, no --join) each make it on their own, so it must be
 *   a function of what they share: the cluster token and the initial configuration (the
 *   bootstrap entries, which list every initial member and its address). etcd derives its
 *   cluster ID the same way from --initial-cluster and --initial-cluster-token. `raftkv
 *   cluster` passes a random token, so each local cluster it bootstraps gets a random id.
 * - A node started with --join and empty data has none: it adopts the id of the first
 *   authenticated member that dials it (the leader, which is about to replicate to it) and
 *   stores it before any of that member's entries.
 * - Data written before cluster ids existed takes the cluster token as its id, which is what
 *   older versions present in their handshake, so a rolling upgrade keeps its links.
 *
 * The loopback-only peer secret (peer-secret.ts) is derived from the token, not from this id:
 * a joining node must be able to authenticate before it knows the id.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Entry } from '../raft/types.ts';
import { clusterIdProblem } from '../storage/index.ts';
import { CloseCode, HandshakeError } from '../transport/index.ts';
import type { Logger } from './logger.ts';

/** A new random cluster id: 64 bits in hex, as etcd shows its cluster IDs. */
export function randomClusterId(): string {
  return randomBytes(8).toString('hex');
}

/** The id every node bootstrapping `entries` under `token` computes alike (see above). */
export function bootstrapClusterId(token: string, entries: readonly Entry[]): string {
  const h = createHash('sha256').update('raftkv cluster id\0').update(token).update('\0');
  for (const e of entries) h.update(`${e.index}:${e.term}:${e.type}:${e.data.length}\0`).update(e.data);
  return h.digest('hex').slice(0, 16);
}

/** Where a node's cluster id came from at open, for the log line that says so. */
export type ClusterIdOrigin = 'stored' | 'bootstrapped' | 'legacy' | 'joining';

export interface ClusterIdStore {
  clusterId(): string | undefined;
  setClusterId(id: string): Promise<void>;
}

/**
 * Settles the cluster id at open: the stored one, else the one this bootstrap makes (`bootstrap`
 * given: the entries about to be written), else for old data the token, else none yet (a node
 * joining with empty data). A new id is stored before the caller writes anything else.
 */
export async function settleClusterId(
  store: ClusterIdStore,
  opts: { token: string; fresh: boolean; bootstrap?: readonly Entry[]; alone: boolean },
): Promise<{ id: string | undefined; origin: ClusterIdOrigin }> {
  const stored = store.clusterId();
  if (stored !== undefined) return { id: stored, origin: 'stored' };
  if (opts.bootstrap) {
    const id = opts.alone ? randomClusterId() : bootstrapClusterId(opts.token, opts.bootstrap);
    await store.setClusterId(id);
    return { id, origin: 'bootstrapped' };
  }
  if (!opts.fresh) {
    await store.setClusterId(opts.token);
    return { id: opts.token, origin: 'legacy' };
  }
  return { id: undefined, origin: 'joining' };
}

/**
 * A node joining with empty data adopts the id of the first authenticated member that dials it
 * (transport learnClusterId). The id is stored through the log's write queue, so it is durable
 * no later than anything that member sends next. An id that cannot be stored refuses the link.
 */
export function adoptClusterId(store: ClusterIdStore, log: Logger, id: string, from: string): void {
  const problem = clusterIdProblem(id);
  if (problem) throw new HandshakeError(CloseCode.ProtocolError, `unusable cluster id: ${problem}`);
  log.info({ clusterId: id, from }, 'joined a cluster: adopted its id');
  // A failed write fails the write queue, and with it the next save: the Ready loop stops the node.
  store.setClusterId(id).catch((err: Error) => log.error({ err, clusterId: id }, 'cannot store the cluster id'));
}
