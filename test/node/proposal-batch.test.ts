import { describe, expect, it } from 'vitest';
import { ProposalBatch } from '../../src/node/proposal-batch.ts';
import { ProposalFailedError, ProposalWaiters } from '../../src/node/waiters.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('ProposalBatch', () => {
  it('proposes the turn’s writes together, in order, and routes each result by its index', async () => {
    const batch = new ProposalBatch();
    const waiters = new ProposalWaiters();
    const calls = ['a', 'b', 'c'].map((s) => batch.add(bytes(s), Date.now() + 1000));
    let proposed: string[] = [];
    batch.flush(
      undefined,
      (data) => {
        proposed = data.map((d) => new TextDecoder().decode(d));
        return { index: 7, term: 2 };
      },
      waiters,
    );
    expect(proposed).toEqual(['a', 'b', 'c']);
    expect(batch.size).toBe(0);
    waiters.applied(5, 2, 'A');
    waiters.applied(6, 3, 'B'); // another leader's entry won index 6
    waiters.applied(7, 2, 'C');
    const settled = await Promise.allSettled(calls);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 'A' });
    expect(settled[1].status === 'rejected' && settled[1].reason).toBeInstanceOf(ProposalFailedError);
    expect(settled[2]).toEqual({ status: 'fulfilled', value: 'C' });
  });

  it('a refusal or a core that drops the proposal answers every caller and registers none', async () => {
    for (const mode of ['refused', 'thrown'] as const) {
      const batch = new ProposalBatch();
      const waiters = new ProposalWaiters();
      const calls = [batch.add(bytes('a'), 0), batch.add(bytes('b'), 0)];
      const err = new Error(mode);
      let proposedCalls = 0;
      let refusals = 0;
      const refuse = () => {
        refusals++;
        return Promise.reject(err);
      };
      batch.flush(
        mode === 'refused' ? refuse : undefined,
        () => {
          proposedCalls++;
          throw err;
        },
        waiters,
      );
      expect(proposedCalls).toBe(mode === 'refused' ? 0 : 1);
      // One answer for the batch: a redirect must not wait for the next leader once per write.
      expect(refusals).toBe(mode === 'refused' ? 1 : 0);
      for (const c of calls) await expect(c).rejects.toBe(err);
      expect(waiters.size).toBe(0);
    }
  });
});
