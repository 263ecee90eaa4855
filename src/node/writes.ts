/**
 * How a write gets into the log: while this node's core leads, it joins the turn's batch
 * (proposal-batch.ts) and its caller waits for the entry to be applied (waiters.ts); otherwise
 * the caller is answered with where to go (NotLeaderError, once a leader is known) or refused.
 *
 * Kept out of RaftNode behind `WritesHost`: the few core calls that decide whether a proposal
 * is taken, the leader as the Ready loop reports it, and the callers waiting on the log.
 */
import type { RawNode } from '../raft/index.ts';
import { NONE } from '../raft/types.ts';
import type { NodeConfig } from './config.ts';
import { NodeClosedError, NotLeaderError } from './errors.ts';
import type { Member } from './members.ts';
import { ProposalBatch } from './proposal-batch.ts';
import type { ProposalWaiters } from './waiters.ts';
import { writeTrace } from './write-trace.ts';

/** What the write path needs from its node. */
export interface WritesHost {
  /** Asked, not the node's cached role, whether it takes proposals now. */
  readonly core: Pick<RawNode, 'isLeader' | 'leadTransferee' | 'proposeBatch'>;
  closed(): boolean;
  /** The leader the Ready loop last reported (NONE while none is known). */
  leaderId(): string;
  /** Where to send a write this node cannot take. */
  leader(): Member | undefined;
  /** Resolves with the next leader other than this node, or undefined after `timeoutMs`. */
  nextLeader(timeoutMs: number): Promise<string | undefined>;
  /** Writes are waiting for the Ready loop's next turn. */
  scheduleReady(): void;
  readonly proposals: ProposalWaiters;
}

export class Writes {
  private readonly batch = new ProposalBatch();

  constructor(
    private readonly host: WritesHost,
    private readonly cfg: Pick<NodeConfig, 'id' | 'tickMs' | 'electionTicks' | 'requestTimeoutMs'>,
  ) {}

  /** Writes taken this turn and not yet handed to the core. */
  get queued(): number {
    return this.batch.size;
  }

  /** Never shorter than a few election timeouts, or every failover would time requests out. */
  timeoutMs(): number {
    return Math.max(this.cfg.requestTimeoutMs, this.cfg.tickMs * this.cfg.electionTicks * 4);
  }

  /** One encoded entry; resolves with its results once applied. */
  propose(data: Uint8Array): Promise<unknown> {
    const refused = this.refusal();
    if (refused) return refused();
    const p = this.batch.add(data, Date.now() + this.timeoutMs());
    writeTrace?.proposed();
    this.host.scheduleReady();
    return p;
  }

  /** The Ready loop is about to run (or the node stops): the turn's writes go to the core as one proposal. */
  flush(): void {
    if (this.batch.size > 0) this.batch.flush(this.refusal(), this.proposeBatch, this.host.proposals);
  }

  private readonly proposeBatch = (data: Uint8Array[]): { index: number; term: number } => {
    const last = this.host.core.proposeBatch(data);
    writeTrace?.batched(last.index - data.length + 1, data.length);
    return last;
  };

  /** Why a proposal cannot be taken now, as the answer to give; undefined if it can. */
  private refusal(): (() => Promise<never>) | undefined {
    // Ask the core, not the node's role: a vote request earlier in this turn may already have
    // stepped it down, and the Ready that tells us has not been handled yet.
    if (!this.host.core.isLeader) return () => this.redirect();
    if (this.host.closed()) return () => Promise.reject(new NodeClosedError());
    if (this.host.core.leadTransferee !== NONE) return () => this.afterTransfer();
    return undefined;
  }

  /**
   * A follower (even one shutting down) sends the caller to the leader. Right after a handover or
   * an election the leader is briefly unknown; wait for it rather than fail a write that the next
   * leader would accept.
   */
  private async redirect(): Promise<never> {
    // The leader may still be us when the core stepped down earlier in this turn.
    const leader = this.host.leaderId();
    if ((leader === NONE || leader === this.cfg.id) && !this.host.closed()) {
      await this.host.nextLeader(this.cfg.tickMs * this.cfg.electionTicks * 2);
    }
    throw new NotLeaderError(this.host.leader());
  }

  /**
   * The core refuses proposals while it hands leadership over. Rather than fail the write, wait
   * for the handover and redirect the caller to the new leader, who will accept it.
   */
  private async afterTransfer(): Promise<never> {
    await this.host.nextLeader(this.cfg.tickMs * this.cfg.electionTicks * 2);
    throw new NotLeaderError(this.host.leader());
  }
}
