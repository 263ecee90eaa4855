import type { NodeId } from './types.ts';

export const VoteResult = { Pending: 'pending', Won: 'won', Lost: 'lost' } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The largest value that a majority of voters have reached: the commit index when `valueFor`
 * is each voter's match index. 0 for an empty configuration.
 */
export function majorityValue(voters: readonly NodeId[], valueFor: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const values = voters.map(valueFor).sort((a, b) => b - a);
  return values[quorumSize(voters.length) - 1];
}

/** Won once a majority granted, lost once a majority can no longer be reached. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return VoteResult.Won;
  if (voters.length - rejected < q) return VoteResult.Lost;
  return VoteResult.Pending;
}
