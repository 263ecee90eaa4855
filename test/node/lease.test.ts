import { describe, expect, it } from 'vitest';
import { LeaseClock, leaseDurationMs } from '../../src/node/lease.ts';
import { encodeRound } from '../../src/raft/read-index.ts';
import { type Message, MessageType } from '../../src/raft/types.ts';

/**
 * The node-side lease (issue 11, hole 2) on an injected clock: a lease runs from its round's
 * first send, for `durationMs`, per leader term. test/raft/read-index.test.ts drives it through
 * the core; test/integration/lease-stall.test.ts through real processes.
 */

function clockAt(start: number) {
  let now = start;
  return {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
  };
}

const heartbeat = (term: number, round: number | undefined): Message => ({
  type: MessageType.Heartbeat,
  from: 'n1',
  to: 'n2',
  term,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  ...(round === undefined ? {} : { context: encodeRound(round) }),
});

describe('LeaseClock', () => {
  it('holds from the first send of the round for durationMs, exclusive', () => {
    const c = clockAt(5000);
    const lease = new LeaseClock({ now: c.now, durationMs: 400 });
    lease.sent(3, 1);
    c.set(5100);
    lease.sent(3, 1); // a resend does not move the start
    c.set(5399.9);
    expect(lease.holds(3, 1)).toBe(true);
    c.set(5400);
    expect(lease.holds(3, 1)).toBe(false);
  });

  it('a round never seen leaving, or of another term, holds nothing', () => {
    const c = clockAt(0);
    const lease = new LeaseClock({ now: c.now, durationMs: 400 });
    expect(lease.holds(1, 1)).toBe(false); // a single voter confirms rounds it never sends
    lease.sent(2, 1);
    expect(lease.holds(1, 1)).toBe(false);
    expect(lease.holds(2, 2)).toBe(false);
    lease.sent(3, 1); // a new term: round numbers restart
    expect(lease.holds(2, 1)).toBe(false);
    expect(lease.holds(3, 1)).toBe(true);
    lease.sent(2, 5); // a late send of an older term changes nothing
    expect(lease.holds(2, 5)).toBe(false);
  });

  it('forgets rounds older than a lease, so memory stays bounded without reads, and they hold nothing', () => {
    const c = clockAt(0);
    const lease = new LeaseClock({ now: c.now, durationMs: 400 });
    for (let round = 1; round <= 10_000; round++) {
      c.set(round * 50);
      lease.sent(1, round);
    }
    const size = (lease as unknown as { sentAt: Map<number, number> }).sentAt.size;
    expect(size).toBeLessThanOrEqual(8);
    expect(lease.holds(1, 10_000)).toBe(true);
    expect(lease.holds(1, 9_990)).toBe(false); // forgotten: it left 500 ms ago
  });

  it('reads the rounds of heartbeats being sent, and nothing else', () => {
    const c = clockAt(0);
    const lease = new LeaseClock({ now: c.now, durationMs: 400 });
    const app: Message = { ...heartbeat(1, 7), type: MessageType.App };
    lease.sending([heartbeat(1, undefined), app, { ...heartbeat(1, 1), context: new TextEncoder().encode('x') }]);
    expect(lease.holds(1, 7)).toBe(false);
    expect(lease.holds(1, 1)).toBe(false);
    lease.sending([heartbeat(1, 2)]);
    expect(lease.holds(1, 2)).toBe(true);
  });

  it('the duration: election timeout less one tick and 1 ms, divided by the drift bound', () => {
    expect(leaseDurationMs(50, 10, 0)).toBe(449);
    expect(leaseDurationMs(50, 10, 0.01)).toBeCloseTo(449 / 1.01, 9);
    expect(leaseDurationMs(100, 10)).toBeLessThan(900);
    expect(leaseDurationMs(1, 2, 0)).toBe(0);
  });
});
