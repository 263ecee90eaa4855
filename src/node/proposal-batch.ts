/**
 * Writes proposed during one event-loop turn, held until the Ready loop runs and then handed to
 * the core as one proposal. Each proposal on its own costs one App per follower, one append and
 * one AppResp per follower back, and a commit check per AppResp; with hundreds of clients that
 * per-entry traffic was much of the replication work (bytes on the followers' links per SET:
 * 34 -> 1.2). No write waits longer for it: its entry could not leave before that turn anyway.
 */
import type { ProposalWaiter, ProposalWaiters } from './waiters.ts';

export class ProposalBatch {
  private data: Uint8Array[] = [];
  /** `term` is filled in when the batch is proposed. */
  private waiters: ProposalWaiter[] = [];

  get size(): number {
    return this.data.length;
  }

  add(data: Uint8Array, deadline: number): Promise<unknown> {
    this.data.push(data);
    return new Promise((resolve, reject) => {
      this.waiters.push({ term: 0, deadline, resolve, reject });
    });
  }

  /**
   * Proposes everything added since the last flush, in order, and hands each caller to
   * `proposals` under its index. With a `refusal` (the node cannot take proposals any more: it
   * stepped down, closed or is handing over since the calls were accepted) every caller gets
   * that answer instead, and so it does if `propose` throws.
   */
  flush(refusal: (() => Promise<never>) | undefined, propose: (data: Uint8Array[]) => { index: number; term: number }, proposals: ProposalWaiters): void {
    const { data, waiters } = this;
    this.data = [];
    this.waiters = [];
    let last: { index: number; term: number } | undefined;
    if (!refusal) {
      try {
        last = propose(data);
      } catch (err) {
        refusal = () => Promise.reject(err);
      }
    }
    if (!last) {
      // One answer for the whole batch: a redirect waits for the next leader once, not once per
      // write (each wait is a listener and a timer).
      const answer = refusal!();
      for (const w of waiters) answer.catch(w.reject);
      return;
    }
    const first = last.index - data.length + 1;
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      w.term = last.term;
      proposals.register(first + i, w);
    }
  }
}
