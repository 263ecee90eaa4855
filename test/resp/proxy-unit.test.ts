/**
 * The follower proxy's unit rules alone (src/resp/proxy/unit.ts), over real connections and the
 * real wire codec: which waiting commands make one unit, how a request is laid out and which
 * reply answers which command, how a connection's unit size follows its replies, and what of a
 * unit may go to the next leader. The forwarding itself runs against real nodes in
 * test/resp-node/follower-proxy.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { RespVersion } from '../../src/resp/encoder.ts';
import {
  FIRST_UNIT,
  type Job,
  MAX_TRIES,
  makeUnit,
  nextAnswer,
  nextUnitMax,
  record,
  retryable,
  UNIT_BYTES,
  UNIT_COMMANDS,
  type Unit,
  unitLength,
} from '../../src/resp/proxy/unit.ts';
import { decodeForward, type ForwardReply, ForwardStatus } from '../../src/resp/proxy/wire.ts';
import { fakeConn } from './support/handlers.ts';

const { conn } = fakeConn();
const argv = (...a: string[]): Buffer[] => a.map((s) => Buffer.from(s));

function job(over: Partial<Omit<Job, 'reply' | 'done'>> = {}): Job {
  const commands = over.commands ?? [argv('SET', 'k', 'v')];
  return {
    commands,
    reply: conn.defer(),
    resp: 2 as RespVersion,
    write: true,
    bytes: 16,
    tx: false,
    appliedHere: false,
    ready: true,
    watches: [],
    watchDirty: false,
    tries: 0,
    done: () => {},
    ...over,
  };
}

const reply = (unit: Unit, index: number, status: ForwardStatus = ForwardStatus.Reply, bytes = '+OK\r\n'): ForwardReply => ({
  id: unit.id,
  index,
  status,
  bytes: Buffer.from(bytes),
});

/** A unit sent to n2, with the replies at `indexes` in. */
function answered(jobs: Job[], replies: [number, ForwardStatus][]): Unit {
  const unit = makeUnit(1, conn, jobs, 0);
  unit.target = 'n2';
  for (const [i, status] of replies) expect(record(unit, 'n2', reply(unit, i, status))).toBe(true);
  return unit;
}

describe('unitLength', () => {
  it('takes the ready pipeline at the head, up to the unit size', () => {
    expect(unitLength([job(), job(), job()], 8)).toBe(3);
    expect(unitLength([job(), job(), job()], 2)).toBe(2);
    expect(unitLength([job(), job(), job({ ready: false }), job()], 8)).toBe(2);
  });

  it('sends a transaction alone, and stops a pipeline before one', () => {
    expect(unitLength([job({ tx: true }), job()], 8)).toBe(1);
    expect(unitLength([job(), job(), job({ tx: true })], 8)).toBe(2);
  });

  it('keeps one protocol version to a unit', () => {
    expect(unitLength([job(), job({ resp: 3 as RespVersion }), job()], 8)).toBe(1);
  });

  it('stops at UNIT_BYTES, but the head always goes', () => {
    const half = UNIT_BYTES / 2;
    expect(unitLength([job({ bytes: half }), job({ bytes: half }), job({ bytes: 1 })], 8)).toBe(2);
    expect(unitLength([job({ bytes: UNIT_BYTES * 3 }), job({ bytes: 1 })], 8)).toBe(1);
  });
});

describe('makeUnit', () => {
  it("lays out every job's commands in order; each job is answered by its last command", () => {
    const tx = job({ tx: true, commands: [argv('MULTI'), argv('INCR', 'a'), argv('EXEC')], watches: [['a', 7]], watchDirty: true, resp: 3 as RespVersion });
    const unit = makeUnit(42, conn, [tx], 1000);
    expect(unit.answers).toEqual([2]);
    expect(unit.results).toHaveLength(3);
    const msg = decodeForward(unit.body);
    expect('request' in msg && msg.request).toEqual({
      id: 42,
      resp: 3,
      watchDirty: true,
      watches: [['a', 7]],
      commands: [argv('MULTI'), argv('INCR', 'a'), argv('EXEC')],
    });

    const pipeline = makeUnit(43, conn, [job({ commands: [argv('SET', 'a', '1')] }), job({ commands: [argv('DEL', 'b')] })], 1000);
    expect(pipeline.answers).toEqual([0, 1]);
    expect(pipeline.deadline).toBe(1000);
    expect(pipeline.target).toBeNull();
  });
});

describe('record and nextAnswer', () => {
  it('takes only the replies the unit awaits, from the peer it went to, once each', () => {
    const unit = makeUnit(5, conn, [job(), job()], 0);
    unit.target = 'n2';
    expect(record(unit, 'n3', reply(unit, 0))).toBe(false);
    expect(record(unit, 'n2', { ...reply(unit, 0), id: 6 })).toBe(false);
    expect(record(unit, 'n2', reply(unit, 2))).toBe(false);
    expect(record(unit, 'n2', reply(unit, 1))).toBe(true);
    expect(record(unit, 'n2', reply(unit, 1))).toBe(false);
    expect(unit.received).toBe(1);
  });

  it('answers in order, and not past a reply missing or not run', () => {
    const unit = makeUnit(5, conn, [job(), job(), job()], 0);
    unit.target = 'n2';
    record(unit, 'n2', reply(unit, 1, ForwardStatus.Reply, ':1\r\n'));
    expect(nextAnswer(unit)).toBeUndefined();
    record(unit, 'n2', reply(unit, 0, ForwardStatus.Reply, ':0\r\n'));
    expect(nextAnswer(unit)?.toString()).toBe(':0\r\n');
    unit.settled++;
    expect(nextAnswer(unit)?.toString()).toBe(':1\r\n');
    unit.settled++;
    record(unit, 'n2', reply(unit, 2, ForwardStatus.NotRun, ''));
    expect(nextAnswer(unit)).toBeUndefined();
  });
});

describe('nextUnitMax', () => {
  const sized = (...n: number[]): ForwardReply[] => n.map((b, index) => ({ id: 1, index, status: ForwardStatus.Reply, bytes: Buffer.alloc(b) }));

  it('doubles with small replies, up to UNIT_COMMANDS', () => {
    let max = FIRST_UNIT;
    const seen: number[] = [];
    while (max < UNIT_COMMANDS) {
      max = nextUnitMax(max, sized(5, 5));
      seen.push(max);
    }
    expect(seen).toEqual([8, 16, 32, 64, 128, 256, 512]);
    expect(nextUnitMax(UNIT_COMMANDS, sized(5))).toBe(UNIT_COMMANDS);
  });

  it('shrinks to what the largest reply allows, never below one command', () => {
    expect(nextUnitMax(512, sized(5, 1024 * 1024))).toBe(4);
    expect(nextUnitMax(512, sized(64 * 1024 * 1024))).toBe(1);
    expect(nextUnitMax(4, [undefined, ...sized(3)])).toBe(8);
  });
});

describe('retryable', () => {
  it('nothing once every job is answered', () => {
    const unit = answered(
      [job(), job()],
      [
        [0, ForwardStatus.Reply],
        [1, ForwardStatus.Reply],
      ],
    );
    unit.settled = 2;
    expect(retryable(unit)).toEqual([]);
  });

  it('the jobs from the first not run, when none after it ran', () => {
    const jobs = [job(), job(), job()];
    const unit = answered(jobs, [
      [0, ForwardStatus.Reply],
      [1, ForwardStatus.NotRun],
      [2, ForwardStatus.NotRun],
    ]);
    unit.settled = 1;
    expect(retryable(unit)).toEqual([jobs[1], jobs[2]]);
  });

  it('nothing when a later job ran: sending the earlier one again would reorder them', () => {
    const unit = answered(
      [job(), job()],
      [
        [0, ForwardStatus.NotRun],
        [1, ForwardStatus.Reply],
      ],
    );
    expect(retryable(unit)).toEqual([]);
  });

  it('nothing once the head was tried MAX_TRIES times', () => {
    const last = answered([job({ tries: MAX_TRIES - 1 })], [[0, ForwardStatus.NotRun]]);
    expect(retryable(last)).toEqual([]);
    const again = answered([job({ tries: MAX_TRIES - 2 })], [[0, ForwardStatus.NotRun]]);
    expect(retryable(again)).toHaveLength(1);
  });
});
