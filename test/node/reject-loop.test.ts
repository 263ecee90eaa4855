/**
 * The reject-loop guard (node/reject-loop.ts) fed the messages a loop produces: the leader
 * pauses appends to a follower that rejects without progress, doubling the pause, lets
 * heartbeats through, resumes on progress, and warns once a minute; a follower catching up
 * (a few rejections, then progress) is never paused; the follower side warns once a minute.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { REJECT_LOOP, RejectLoops } from '../../src/node/reject-loop.ts';
import { type Message, MessageType } from '../../src/raft/types.ts';

function msg(type: MessageType, from: string, to: string, extra: Partial<Message> = {}): Message {
  return { type, from, to, term: 2, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...extra };
}

function setup() {
  const logs: { msg: string; pauseMs?: number }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l)) });
  const state = { now: 0, match: 5, lastIndex: 5, commit: 5 };
  const loops = new RejectLoops({
    log,
    logPosition: () => ({ lastIndex: state.lastIndex, commit: state.commit }),
    matchOf: () => state.match,
    now: () => state.now,
  });
  return { logs, state, loops };
}

const reject = msg(MessageType.AppResp, 'n4', 'n1', { reject: true, index: 5, rejectHint: 5 });
const accept = msg(MessageType.AppResp, 'n4', 'n1', { index: 5 });
const app = msg(MessageType.App, 'n1', 'n4', { index: 5 });
const heartbeat = msg(MessageType.Heartbeat, 'n1', 'n4');

describe('leader side', () => {
  it('pauses appends (not heartbeats) after the threshold, doubles the pause, warns once a minute, resumes on progress', () => {
    const { logs, state, loops } = setup();
    for (let i = 0; i < REJECT_LOOP.threshold - 1; i++) {
      loops.incoming(reject);
      loops.incoming(accept); // the loop's answer at its commit index: no progress
    }
    expect(loops.paused('n4')).toBe(false);
    expect(loops.outgoing([app, heartbeat])).toEqual([app, heartbeat]);
    loops.incoming(reject);
    expect(loops.paused('n4')).toBe(true);
    expect(loops.outgoing([app, heartbeat, msg(MessageType.App, 'n1', 'n2')]).map((m) => `${m.type}>${m.to}`)).toEqual(['heartbeat>n4', 'app>n2']);
    expect(logs.filter((l) => l.msg.includes('rejects appends in a loop')).map((l) => l.pauseMs)).toEqual([REJECT_LOOP.firstPauseMs]);
    // The pause ends; the loop goes on: twice as long, no second warning within the minute.
    state.now += REJECT_LOOP.firstPauseMs;
    expect(loops.paused('n4')).toBe(false);
    for (let i = 0; i < REJECT_LOOP.threshold; i++) loops.incoming(reject);
    expect(loops.paused('n4')).toBe(true);
    state.now += REJECT_LOOP.firstPauseMs;
    expect(loops.paused('n4')).toBe(true);
    expect(logs.filter((l) => l.msg.includes('rejects appends in a loop'))).toHaveLength(1);
    // Progress ends it.
    state.match = 6;
    loops.incoming(accept);
    expect(loops.paused('n4')).toBe(false);
    expect(loops.outgoing([app])).toEqual([app]);
  });

  it('a follower catching up (rejections with its match moving) is never paused', () => {
    const { logs, state, loops } = setup();
    for (let i = 0; i < 10 * REJECT_LOOP.threshold; i++) {
      loops.incoming(reject);
      if (i % 5 === 4) state.match++;
    }
    expect(loops.paused('n4')).toBe(false);
    expect(logs).toEqual([]);
  });
});

describe('follower side', () => {
  it('warns once a minute while it keeps rejecting a leader without its log moving', () => {
    const { logs, state, loops } = setup();
    const mine = msg(MessageType.AppResp, 'n4', 'n1', { reject: true, index: 6 });
    const warned = () => logs.filter((l) => l.msg.includes("rejecting the leader's appends")).length;
    for (let i = 0; i < 3 * REJECT_LOOP.threshold; i++) loops.outgoing([mine, msg(MessageType.AppResp, 'n4', 'n1', { index: 5 })]);
    expect(warned()).toBe(1);
    state.now += REJECT_LOOP.warnEveryMs;
    loops.outgoing([mine]);
    expect(warned()).toBe(2);
    // Its log moved: a new streak, no warning.
    state.lastIndex = 9;
    for (let i = 0; i < REJECT_LOOP.threshold - 2; i++) loops.outgoing([mine]);
    state.now += REJECT_LOOP.warnEveryMs;
    loops.outgoing([mine]);
    expect(warned()).toBe(2);
  });
});
