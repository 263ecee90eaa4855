/**
 * The follower proxy's units (forwarder.ts): what a client connection's waiting commands become
 * when they go to the leader, and the rules about them that need no socket, timer or node. Which
 * waiting commands make the next unit, how big a connection's units may grow, which reply
 * answers which command, and what of a unit may go to the next leader. Kept apart from the
 * machinery that sends and times units so that these rules read, and are tested, alone.
 *
 * A unit is a pipeline (the run of ready, non-transaction commands at the head of the queue, in
 * one protocol version) or one transaction (MULTI, its commands, EXEC), sent as one request
 * (wire.ts). Its size adapts to its replies: relayed replies are copies (unlike a leader's GET
 * reply, which points at the stored value), so a connection whose replies are large sends few
 * commands at a time.
 */
import type { ClientConn } from '../conn.ts';
import type { DeferredReply } from '../deferred-reply.ts';
import type { RespVersion } from '../encoder.ts';
import { encodeRequest, type ForwardReply, ForwardStatus } from './wire.ts';

/** A pipeline unit stops growing past this many commands or bytes (one command always goes). */
export const UNIT_COMMANDS = 512;
export const UNIT_BYTES = 1024 * 1024;
/**
 * Reply bytes a unit should bring back: the next unit of a connection holds at most this
 * divided by the largest reply of its last unit (at least one command, at most twice the last
 * unit), starting from FIRST_UNIT commands.
 */
export const UNIT_REPLY_BYTES = 4 * 1024 * 1024;
export const FIRST_UNIT = 4;
/** A unit refused as "not here" goes to the next leader at most this many times. */
export const MAX_TRIES = 5;

/** One command (or one transaction) of a client connection, waiting or on its way. */
export interface Job {
  readonly commands: Buffer[][];
  readonly reply: DeferredReply;
  readonly resp: RespVersion;
  /** Changes state: its lost outcome is unknown, not a safe retry. */
  readonly write: boolean;
  readonly bytes: number;
  /** A transaction: its reply is that of its last command (EXEC). */
  readonly tx: boolean;
  /** Takes effect on this node too (route.ts): answered once this node has applied it. */
  readonly appliedHere: boolean;
  /** Passed the connection's earlier reads (WATCH); a transaction has its WATCHes then. */
  ready: boolean;
  watches: [string, number][];
  watchDirty: boolean;
  tries: number;
  done: () => void;
}

/** The jobs sent as one request, and what has come back of it. */
export interface Unit {
  readonly id: number;
  readonly conn: ClientConn;
  readonly jobs: Job[];
  /** Index in the request's commands of the reply that answers each job. */
  readonly answers: number[];
  readonly body: Buffer;
  readonly results: (ForwardReply | undefined)[];
  received: number;
  /** Jobs answered, in order. */
  settled: number;
  deadline: number;
  target: string | null;
  timer: NodeJS.Timeout | null;
}

/** A connection's queue of jobs and its one unit in flight. */
export interface ConnState {
  readonly queue: Job[];
  active: Unit | null;
  /** Commands the next pipeline unit may hold (see UNIT_REPLY_BYTES). */
  unitMax: number;
  /** A pump waits for the client to read its replies. */
  waitTimer: NodeJS.Timeout | null;
}

export function newConnState(): ConnState {
  return { queue: [], active: null, unitMax: FIRST_UNIT, waitTimer: null };
}

/**
 * How many jobs at the head of `queue` the next unit takes (the head must be ready): a
 * transaction alone, else the ready non-transaction jobs of the head's protocol version, up to
 * `unitMax` of them and UNIT_BYTES.
 */
export function unitLength(queue: readonly Pick<Job, 'ready' | 'tx' | 'resp' | 'bytes'>[], unitMax: number): number {
  const head = queue[0];
  let n = 1;
  if (head.tx) return n;
  let bytes = head.bytes;
  while (n < queue.length && n < unitMax && queue[n].ready && !queue[n].tx && queue[n].resp === head.resp && bytes + queue[n].bytes <= UNIT_BYTES) {
    bytes += queue[n].bytes;
    n++;
  }
  return n;
}

/** The unit of `jobs` (from the head of one connection's queue), encoded as request `id`. */
export function makeUnit(id: number, conn: ClientConn, jobs: Job[], deadline: number): Unit {
  const commands: Buffer[][] = [];
  const answers: number[] = [];
  for (const j of jobs) {
    for (const c of j.commands) commands.push(c);
    answers.push(commands.length - 1);
  }
  // The head carries the unit's protocol version, and a transaction's WATCHes.
  const head = jobs[0];
  const body = encodeRequest({ id, resp: head.resp, watchDirty: head.watchDirty, watches: head.watches, commands });
  return { id, conn, jobs, answers, body, results: new Array(commands.length), received: 0, settled: 0, deadline, target: null, timer: null };
}

/**
 * Takes reply `r` into its unit; false if it is not one the unit awaits (another request's id,
 * a peer it was not sent to, an index out of range, or a reply already in).
 */
export function record(unit: Unit, from: string, r: ForwardReply): boolean {
  if (r.id !== unit.id || unit.target !== from || r.index >= unit.results.length || unit.results[r.index] !== undefined) return false;
  unit.results[r.index] = r;
  unit.received++;
  return true;
}

/** The reply bytes that answer the unit's next unanswered job, if they are in and it ran. */
export function nextAnswer(unit: Pick<Unit, 'jobs' | 'answers' | 'results' | 'settled'>): Buffer | undefined {
  if (unit.settled >= unit.jobs.length) return undefined;
  const res = unit.results[unit.answers[unit.settled]];
  return res?.status === ForwardStatus.Reply ? res.bytes : undefined;
}

/** Commands the connection's next pipeline unit may hold, after `results` came back (UNIT_REPLY_BYTES). */
export function nextUnitMax(unitMax: number, results: readonly (ForwardReply | undefined)[]): number {
  let biggest = 1;
  for (const r of results) if (r !== undefined && r.bytes.length > biggest) biggest = r.bytes.length;
  return Math.max(1, Math.min(UNIT_COMMANDS, unitMax * 2, Math.floor(UNIT_REPLY_BYTES / biggest)));
}

/**
 * Every reply of the unit is in: the jobs to send to the next leader (those the leader did not
 * run, as "not here"), or none when the unit is finished: all answered, a later command of the
 * unit ran (so sending the earlier ones again would reorder them), or tried MAX_TRIES times.
 */
export function retryable(unit: Pick<Unit, 'jobs' | 'answers' | 'results' | 'settled'>): Job[] {
  const rest = unit.jobs.slice(unit.settled);
  const laterRan = rest.some((_, i) => unit.results[unit.answers[unit.settled + i]]?.status === ForwardStatus.Reply);
  if (rest.length === 0 || laterRan || rest[0].tries + 1 >= MAX_TRIES) return [];
  return rest;
}
