/**
 * The runtime's failures as Redis Cluster replies. A client must be able to tell "not here, go
 * there" (MOVED), "nobody can serve this now" (CLUSTERDOWN), "safe to retry" (TRYAGAIN: the
 * command certainly did not take effect) and "the write may or may not have happened" (an
 * -ERR that says so, never TRYAGAIN: cluster clients retry TRYAGAIN by themselves, and a
 * retried INCR whose first attempt did commit would count twice).
 */
import { KvEncodeError } from '../../kv/index.ts';
import { NodeClosedError, NotLeaderError } from '../../node/errors.ts';
import { type Member, respPort } from '../../node/members.ts';
import type { RaftNode } from '../../node/raft-node.ts';
import { OutcomeUnknownError, ProposalFailedError, ReadTimeoutError } from '../../node/waiters.ts';
import { ProposalDroppedError } from '../../raft/types.ts';
import { R, type Reply } from '../reply.ts';

export const CLUSTERDOWN = R.error('CLUSTERDOWN No leader elected');

/**
 * `MOVED <slot> <host>:<port>` to the leader, or CLUSTERDOWN when none is known. `tls`: the
 * client is on a TLS connection, so the port is the leader's TLS port (see respPort).
 */
export function redirect(node: RaftNode, slot: number, tls: boolean, leader: Member | undefined = node.leader()): Reply {
  return redirectTo(node.id, leader, slot, tls);
}

/** The same for any group: `self` is this node's member id, `leader` the group's leader. */
export function redirectTo(self: string, leader: Member | undefined, slot: number, tls: boolean): Reply {
  if (leader === undefined || leader.id === self) return CLUSTERDOWN;
  return R.error(`MOVED ${slot} ${leader.host}:${respPort(leader, tls)}`);
}

/**
 * The reply for an error thrown by `propose` or `linearizableBarrier`; rethrows anything else
 * (the server answers `-ERR internal error` and logs it).
 */
export function runtimeErrorReply(node: RaftNode, err: unknown, slot: number, tls: boolean): Reply {
  if (err instanceof NotLeaderError) return redirect(node, slot, tls, err.leader ?? node.leader());
  if (err instanceof ProposalDroppedError) return redirect(node, slot, tls);
  if (err instanceof ProposalFailedError) {
    // Another leader's entry took the index: this write certainly did not happen.
    const leader = node.leader();
    if (leader !== undefined && leader.id !== node.id) return redirect(node, slot, tls, leader);
    return R.error('TRYAGAIN the write was not committed because leadership changed; it is safe to retry');
  }
  if (err instanceof ReadTimeoutError) {
    return R.error(`TRYAGAIN the read could not be confirmed by a quorum in time (${err.message}); retry`);
  }
  if (err instanceof OutcomeUnknownError) {
    return R.error(`ERR outcome unknown: ${err.message}. The write may or may not have been applied`);
  }
  // Only for requests this node never put in the log (a write it had proposed is failed with
  // OutcomeUnknownError at shutdown), so a retry elsewhere is safe.
  if (err instanceof NodeClosedError) return R.error('TRYAGAIN this node is shutting down; retry on another node');
  if (err instanceof KvEncodeError) return R.error(`ERR ${err.message}`);
  throw err;
}
