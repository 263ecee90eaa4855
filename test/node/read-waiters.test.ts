/**
 * Linearizable reads wait for a ReadIndex answer. The core forgets pending ReadIndex requests
 * when leadership changes, so the node asks again once a new leader is known (issue 11, hole 6):
 * a read in flight during a failover is served by the next leader instead of timing out.
 */
import { describe, expect, it } from 'vitest';
import { ReadTimeoutError, ReadWaiters } from '../../src/node/waiters.ts';

const tick = () => new Promise<void>((r) => queueMicrotask(r));

describe('ReadWaiters across a restart', () => {
  it("a leader's late answer to the previous process's read serves no read of the new one", async () => {
    const before: Uint8Array[] = [];
    const old = new ReadWaiters((ctx) => before.push(ctx));
    void old.wait(Date.now() + 60_000).catch(() => undefined);
    await tick();
    // The process restarts; the leader still holds the old request and answers it later, with
    // the index it had then. A read of the new process must not take that answer.
    const after: Uint8Array[] = [];
    const w = new ReadWaiters((ctx) => after.push(ctx));
    let done = false;
    void w.wait(Date.now() + 60_000).then(() => {
      done = true;
    });
    await tick();
    w.onReadState({ index: 3, context: before[0] });
    w.serve(10);
    await tick();
    expect(done).toBe(false);
    w.onReadState({ index: 9, context: after[0] });
    w.serve(10);
    await tick();
    expect(done).toBe(true);
  });
});

describe('ReadWaiters across a leader change', () => {
  it('resend asks again for every batch still waiting for its index, with the same context', async () => {
    const issued: string[] = [];
    const w = new ReadWaiters((ctx) => issued.push(Buffer.from(ctx).toString('hex')));
    let done = false;
    const read = w.wait(Date.now() + 60_000).then(() => {
      done = true;
    });
    await tick();
    expect(issued).toHaveLength(1);
    w.resend();
    expect(issued).toEqual([issued[0], issued[0]]);
    // The new leader's answer serves the read once its index is applied.
    w.onReadState({ index: 7, context: Buffer.from(issued[0], 'hex') });
    w.serve(6);
    await tick();
    expect(done).toBe(false);
    w.serve(7);
    await read;
    expect(done).toBe(true);
  });

  it('a batch that already has its index is not asked for again, and a second answer is ignored', async () => {
    const issued: Uint8Array[] = [];
    const w = new ReadWaiters((ctx) => issued.push(ctx));
    const read = w.wait(Date.now() + 60_000);
    await tick();
    w.onReadState({ index: 3, context: issued[0] });
    w.resend();
    expect(issued).toHaveLength(1);
    w.onReadState({ index: 99, context: issued[0] });
    w.serve(3);
    await read;
    expect(w.size).toBe(0);
  });

  it('without an answer the read still ends at its deadline (TRYAGAIN upstream), never hangs', async () => {
    const w = new ReadWaiters(() => {});
    const read = w.wait(1000);
    await tick();
    w.resend();
    w.expire(1000);
    await expect(read).rejects.toBeInstanceOf(ReadTimeoutError);
  });
});

describe('ReadWaiters holds reads while a request is in flight', () => {
  /** A `defer` the test runs by hand: the turn after the answer. */
  function deferred(): { defer: (fn: () => void) => void; run: () => void; queued: () => number } {
    let fns: (() => void)[] = [];
    return {
      defer: (fn) => fns.push(fn),
      run: () => {
        const now = fns;
        fns = [];
        for (const fn of now) fn();
      },
      queued: () => fns.length,
    };
  }

  it('reads that come while one request is in flight are asked for as one request, a turn after its answer', async () => {
    const issued: Uint8Array[] = [];
    const narrow: boolean[] = [];
    const turn = deferred();
    const w = new ReadWaiters(
      (ctx, n) => {
        issued.push(ctx);
        narrow.push(n);
      },
      1n,
      turn.defer,
    );
    const first = w.wait(Date.now() + 60_000);
    await tick();
    expect(issued).toHaveLength(1);
    // Three socket reads in three later turns, while the first request waits for its round.
    const later: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) {
      later.push(w.wait(Date.now() + 60_000));
      await tick();
    }
    expect(issued).toHaveLength(1);
    expect(w.size).toBe(4);
    w.onReadState({ index: 5, context: issued[0] });
    w.serve(5);
    await first;
    // Not in the answer's own turn: a read that comes before the deferred run still joins.
    expect(issued).toHaveLength(1);
    later.push(w.wait(Date.now() + 60_000));
    turn.run();
    expect(issued).toHaveLength(2);
    // The first came with nothing in flight (every follower asked), the held ones did not.
    expect(narrow).toEqual([false, true]);
    w.onReadState({ index: 6, context: issued[1] });
    w.serve(6);
    await Promise.all(later);
    expect(w.size).toBe(0);
  });

  /** Waiters with one request issued and never answered: what later reads are held behind. */
  async function oneInFlight(): Promise<{ issued: Uint8Array[]; w: ReadWaiters }> {
    const issued: Uint8Array[] = [];
    const w = new ReadWaiters((ctx) => issued.push(ctx), 1n, deferred().defer);
    void w.wait(60_000).catch(() => undefined);
    await tick();
    return { issued, w };
  }

  it('a request that is never answered holds later reads for one to two ticks, not to their deadline', async () => {
    const { issued, w } = await oneInFlight();
    const held = w.wait(60_000);
    await tick();
    w.expire(50); // the held read came during this tick
    expect(issued).toHaveLength(1);
    w.expire(100); // a whole tick has passed over it
    expect(issued).toHaveLength(2);
    w.onReadState({ index: 2, context: issued[1] });
    w.serve(2);
    await held;
  });

  it('held reads end at their deadline, and are asked for at once after a leader change', async () => {
    const { issued, w } = await oneInFlight();
    const late = w.wait(1000);
    await tick();
    w.expire(1000);
    await expect(late).rejects.toBeInstanceOf(ReadTimeoutError);
    const held = w.wait(60_000);
    await tick();
    w.resend();
    // The request in flight asked again, and the held reads asked for under an id of their own.
    const hex = (c: Uint8Array) => Buffer.from(c).toString('hex');
    expect(issued).toHaveLength(3);
    expect(hex(issued[1])).toBe(hex(issued[0]));
    expect(hex(issued[2])).not.toBe(hex(issued[0]));
    w.onReadState({ index: 4, context: issued[2] });
    w.serve(4);
    await held;
  });
});
