/**
 * The strict reconfiguration check (etcd's --strict-reconfig-check, on by default in etcd 3):
 * the leader refuses a membership change that would wedge the cluster. A change is an entry
 * like any other, committed by a quorum of the configuration it is proposed under, and once
 * applied the next entry needs a quorum of the new one. So a change is safe only if both
 * configurations have a quorum of active voters: removing the down voter of a two-voter
 * cluster needs the down one's vote to commit, and removing a live voter of a three-voter
 * cluster with one down leaves one of two.
 *
 * "Active" is the leader's judgement (peer-contact.ts): heard from within an election timeout;
 * the leader itself always is. Pure, so that the rule is tested alone (test/node/reconfig-check.test.ts).
 */

export type ReconfigVerb = 'adding' | 'promoting' | 'removing';

/** Votes a configuration of `n` voters needs to commit. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Why `verb id` (turning `before`'s voters into `after`'s) would wedge the cluster; undefined
 * when it is safe. The wording ends with how to override (force), since the operator may know
 * better (the down voter is gone for good and will be replaced).
 */
export function unsafeReconfig(
  verb: ReconfigVerb,
  id: string,
  before: readonly string[],
  after: readonly string[],
  active: (id: string) => boolean,
): string | undefined {
  const down = (ids: readonly string[]) => ids.filter((v) => !active(v));
  const inactive = (ids: readonly string[]) => `not heard from within an election timeout: ${down(ids).join(', ')}`;
  const override = 'pass force (raftkv member --force, or ?force=true) to do it anyway';
  const activeBefore = before.length - down(before).length;
  if (activeBefore < quorum(before.length)) {
    return (
      `${verb} ${id} would leave ${activeBefore} of ${before.length} voters active to commit it, short of a quorum of ${quorum(before.length)} ` +
      `(${inactive(before)}); a change that cannot commit would wedge the cluster; ${override}`
    );
  }
  const activeAfter = after.length - down(after).length;
  if (after.length > 0 && activeAfter < quorum(after.length)) {
    return (
      `${verb} ${id} would leave ${activeAfter} of ${after.length} voters active, short of a quorum of ${quorum(after.length)} ` +
      `(${inactive(after)}); the cluster could not commit anything after it; ${override}`
    );
  }
  return undefined;
}
