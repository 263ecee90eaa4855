/**
 * Memory per element per data type (issue 14 section 4): 100k-member hashes, sets, lists and
 * sorted sets, loaded into the RaftKV leader and into redis-server, and the RSS each process
 * gained divided by the members. Members are `member:%08d` (15 bytes, as docs/performance.md
 * "Collections" measured the structures alone); a hash's values are its fields, a sorted set's
 * scores the member's number. A type the build does not have yet (its command answers
 * "unknown command") is reported as not built.
 *
 * How, the same on both sides: a fresh RaftKV cluster (compiled, its nodes with the inspector
 * on loopback) and a fresh redis-server of their own; per type, KEYS_PER_TYPE keys of 100k
 * members one after another, in the same order on both, each read as the RSS step it adds
 * (the followers caught up). The figure is the median of the steps after the first; the first
 * is kept beside it. Before every RSS reading each side gives back what it has freed: the
 * leader a forced full GC (without it a 100k-member step, ~10 MiB, drowns in garbage from
 * earlier loads: the bench once read -44 B per hash member), redis-server `MEMORY PURGE`
 * (jemalloc otherwise keeps freed dirty pages for ~10 s, the old table of a rehash and the
 * clients' argument objects among them: +6-8 B per hash member, varying with the timing).
 *
 * Why not the first step: it carries each process's one-off costs of the first write burst,
 * which are not per element. On the leader those were ~54 B per member of the first 100k-member
 * hash (2026-12-04, `--inspect` heap statistics: LevelDB's memtable filling with the log
 * entries, the log tail reaching log-memory-bytes, JIT code), against ~124 B for each later
 * one; the old single-step method paid them on whichever type came first (the hash). Why a
 * fresh redis-server: the bench's own one has held and flushed 1M keys, and jemalloc refills
 * that freed memory before growing RSS, so its steps read 74-116 B per hash member between
 * runs; a fresh one reads 110-111 B in every step (after MEMORY PURGE).
 */
import type { ClusterHarness } from '../support/cluster-harness.ts';
import { type ElectionWindow, watchElections } from './elections.ts';
import { Inspector, inspectorUrl } from './inspector.ts';
import { rssBytes, sleep } from './procs.ts';
import type { Target } from './report.ts';
import { encodeCommand, RespClient } from './resp-client.ts';
import { startRaftKVWith } from './systems/raftkv.ts';
import { startRedis } from './systems/redis.ts';

export const TYPE_MEMBERS = 100_000;
/** Keys per type: the first step and the median of the rest (3). */
const KEYS_PER_TYPE = 4;
const BATCH = 1000;
const IN_FLIGHT = 4;

export interface TypeRow {
  type: string;
  /** RSS bytes gained per member (median of the steps after the first), or null when the build lacks the type's commands. */
  raftkvBytes: number | null;
  redisBytes: number | null;
  /** Every key's step in load order, the first (one-off costs included) first. */
  raftkvSteps?: number[];
  redisSteps?: number[];
}

/** The command that adds members [from, to) of a type to `key`. */
export function addCommand(type: string, key: string, from: number, to: number): (string | Buffer)[] {
  const members: string[] = [];
  for (let i = from; i < to; i++) members.push(`member:${String(i).padStart(8, '0')}`);
  switch (type) {
    case 'hash':
      return ['HSET', key, ...members.flatMap((m) => [m, m])];
    case 'set':
      return ['SADD', key, ...members];
    case 'list':
      return ['RPUSH', key, ...members];
    case 'zset':
      return ['ZADD', key, ...members.flatMap((m, i) => [String(from + i), m])];
    default:
      throw new Error(`no loader for type ${type}`);
  }
}

export const TYPES = ['hash', 'set', 'list', 'zset'] as const;

export class TypeNotBuiltError extends Error {}

let calls = 0;

/** Loads `n` members of `type` into one key; TypeNotBuiltError when the server lacks the command. */
export async function loadType(port: number, type: string, n: number, key = `mem:${type}`): Promise<void> {
  const c = await RespClient.connect(port);
  try {
    const inflight = new Set<Promise<void>>();
    let failure: Error | undefined;
    for (let i = 0; i < n && !failure; i += BATCH) {
      const p = c.sendRaw(encodeCommand(addCommand(type, key, i, Math.min(n, i + BATCH)))).then((r) => {
        inflight.delete(p);
        if (r instanceof Error) failure ??= /unknown command/i.test(r.message) ? new TypeNotBuiltError(r.message) : r;
      });
      inflight.add(p);
      if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    if (failure) throw failure;
  } finally {
    c.close();
  }
}

async function caughtUp(h: ClusterHarness): Promise<void> {
  const target = (await h.status(await h.waitLeader()))!.commit;
  for (let i = 0; i < 600; i++) {
    const sts = await Promise.all(h.nodes.map((n) => h.status(n)));
    if (sts.every((s) => s && s.applied >= target)) return;
    await sleep(100);
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

/**
 * Each type's bytes per member on a fresh RaftKV cluster's leader (compiled `main`) and a fresh
 * redis-server, measured as the header says. Both are stopped afterwards.
 */
export async function typeMemory(main: string, log: (msg: string) => void, elections: ElectionWindow[], n = TYPE_MEMBERS): Promise<TypeRow[]> {
  const h = await startRaftKVWith(main, [], '--inspect=127.0.0.1:0');
  const redis = await startRedis('redis-types', false);
  const redisClient = await RespClient.connect(redis.port);
  try {
    const leader = await h.waitLeader();
    const insp = await Inspector.connect(inspectorUrl(leader));
    const raftkvRss = async () => {
      await insp.call('HeapProfiler.collectGarbage');
      await sleep(500);
      return rssBytes(leader.proc!.pid!);
    };
    const redisRss = async () => {
      await redisClient.command('MEMORY', 'PURGE');
      await sleep(500);
      return rssBytes(redis.proc.pid!);
    };
    const rows: TypeRow[] = [];
    try {
      for (const type of TYPES) {
        const raftkvSteps: number[] = [];
        const redisSteps: number[] = [];
        for (let k = 0; k < KEYS_PER_TYPE; k++) {
          // A new key per call: a run repeated after a leader change must not refill an old one.
          const key = `mem:${type}:${++calls}`;
          const r0 = await raftkvRss();
          log(`memory per type: ${n} ${type} members into RaftKV and Redis, key ${k + 1} of ${KEYS_PER_TYPE}`);
          try {
            await watchElections(h, `memory: 100k ${type} members`, elections, async () => {
              await loadType(leader.port, type, n, key);
              await caughtUp(h);
            });
          } catch (err) {
            if (!(err instanceof TypeNotBuiltError)) throw err;
            log(`memory per type: RaftKV has no ${type} commands yet (${err.message})`);
            break;
          }
          raftkvSteps.push(((await raftkvRss()) - r0) / n);
          const q0 = await redisRss();
          await loadType(redis.port, type, n, key);
          redisSteps.push(((await redisRss()) - q0) / n);
        }
        const built = raftkvSteps.length === KEYS_PER_TYPE;
        rows.push({
          type,
          raftkvBytes: built ? median(raftkvSteps.slice(1)) : null,
          redisBytes: built ? median(redisSteps.slice(1)) : null,
          raftkvSteps,
          redisSteps,
        });
      }
    } finally {
      insp.close();
    }
    return rows;
  } finally {
    redisClient.close();
    redis.proc.kill('SIGKILL');
    await h.stop();
  }
}

/** One target per type: leader RSS bytes per member <= 2x Redis's. */
export function typeTargets(rows: TypeRow[] | undefined): Target[] {
  return TYPES.map((type) => {
    const r = rows?.find((x) => x.type === type);
    // A step at or below zero means RSS fell while loading: noise, not a figure.
    const ok = r && r.raftkvBytes !== null && r.redisBytes !== null && r.raftkvBytes > 0 && r.redisBytes > 0;
    return {
      name: `bytes per ${type} member (100k) vs Redis`,
      measured: ok
        ? `${(r.raftkvBytes! / r.redisBytes!).toFixed(2)}x (${r.raftkvBytes!.toFixed(0)} vs ${r.redisBytes!.toFixed(0)} B)`
        : r
          ? 'not built in this branch'
          : 'not measured (--memory)',
      goal: '<= 2x',
      pass: ok ? r.raftkvBytes! / r.redisBytes! <= 2 : null,
    };
  });
}
