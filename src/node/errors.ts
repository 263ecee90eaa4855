/** The runtime's failures, one class each, so the front ends can map them to replies. */
import type { Member } from './members.ts';

/** This node cannot take the request; `leader` says where to go (undefined: none is known). */
export class NotLeaderError extends Error {
  override name = 'NotLeaderError';
  constructor(readonly leader: Member | undefined) {
    super(leader ? `not the leader; the leader is ${leader.id}` : 'no leader is known');
  }
}

export class NodeClosedError extends Error {
  override name = 'NodeClosedError';
  constructor() {
    super('node is shutting down');
  }
}

export class MemberExistsError extends Error {
  override name = 'MemberExistsError';
  constructor(id: string) {
    super(`member ${id} already exists`);
  }
}

export class UnknownMemberError extends Error {
  override name = 'UnknownMemberError';
  constructor(id: string) {
    super(`unknown member ${id}`);
  }
}

export class TransferTimeoutError extends Error {
  override name = 'TransferTimeoutError';
  constructor(target: string, ms: number) {
    super(`leadership transfer to ${target} did not complete in ${ms} ms`);
  }
}

/** The previous membership change was still not applied when the request's time ran out. */
export class ConfChangePendingError extends Error {
  override name = 'ConfChangePendingError';
  constructor() {
    super('the previous membership change is still being applied; try again');
  }
}

/** `member promote` of a member that is not a learner (already a voter). */
export class NotLearnerError extends Error {
  override name = 'NotLearnerError';
  constructor(id: string) {
    super(`member ${id} is not a learner`);
  }
}

/** `member promote` of a learner that has not caught up with the leader (etcd refuses it too). */
export class LearnerBehindError extends Error {
  override name = 'LearnerBehindError';
  constructor(id: string, match: number, commit: number) {
    super(`learner ${id} has not caught up (at ${match} of ${commit}); it is promoted automatically once it has`);
  }
}

/**
 * A membership change the leader refuses because it would wedge the cluster (reconfig-check.ts):
 * it could not commit, or would leave too few active voters for anything after it to commit.
 */
export class UnsafeReconfigError extends Error {
  override name = 'UnsafeReconfigError';
}
