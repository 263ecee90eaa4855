import { Progress } from './progress.ts';
import { majorityValue, quorumSize, type VoteResult, voteResult } from './quorum.ts';
import type { ConfState, NodeId } from './types.ts';

/**
 * The membership (voters and learners), each member's Progress and the votes of the current
 * election. Learners have a Progress (they receive the log) but never count in a quorum.
 */
export class ProgressTracker {
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();

  constructor(
    private readonly maxInflight: number,
    private readonly maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.learners.includes(id);
  }

  /** Switches to `conf`; new members start probing at `lastIndex + 1`. */
  setConfig(conf: ConfState, lastIndex: number): void {
    this.voters = [...conf.voters].sort();
    this.learners = [...conf.learners].sort();
    const members = new Set([...this.voters, ...this.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      if (this.progress.has(id)) continue;
      const pr = this.newProgress(lastIndex + 1);
      // A new member gets an election timeout of grace before CheckQuorum counts it as silent.
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
  }

  /** Fresh progress for every member (on every role change). */
  resetProgress(lastIndex: number, self: NodeId, selfMatch: number): void {
    for (const id of this.progress.keys()) {
      const pr = this.newProgress(lastIndex + 1);
      if (id === self) pr.match = selfMatch;
      this.progress.set(id, pr);
    }
  }

  private newProgress(next: number): Progress {
    return new Progress(next, this.maxInflight, this.maxInflightBytes);
  }

  /** Section 5.3/5.4: the highest index stored on a majority of voters. */
  committed(): number {
    return majorityValue(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /** Whether a quorum of voters (counting `self`) was heard from recently. */
  quorumActive(self: NodeId): boolean {
    const active = this.voters.filter((id) => id === self || this.progress.get(id)?.recentActive).length;
    return active >= quorumSize(this.voters.length);
  }

  markAllInactive(self: NodeId): void {
    for (const [id, pr] of this.progress) pr.recentActive = id === self;
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Only the first answer of each node counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  voteResult(): VoteResult {
    return voteResult(this.voters, this.votes);
  }
}
