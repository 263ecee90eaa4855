/**
 * Memory per element per data type (issue 14 section 4): one 100k-member hash, set, list and
 * sorted set, each loaded into the RaftKV leader and into redis-server, and the RSS each process
 * gained divided by the members. Members are `member:%08d` (15 bytes, as docs/performance.md
 * "Collections" measured the structures alone); a hash's values are its fields, a sorted set's
 * scores the member's number. Types are loaded one after another into the same processes, each
 * measured as the RSS step it adds, with the followers caught up. RaftKV runs as its own fresh
 * cluster with the inspector on loopback, and its leader gets a forced full GC before each RSS
 * reading: a 100k-member step is ~10 MiB, which garbage from earlier loads would swamp (without
 * it the bench once read a hash as -44 B per member). A type the build does not have yet (its
 * command answers "unknown command") is reported as not built.
 */
import type { ClusterHarness } from '../support/cluster-harness.ts';
import { type ElectionWindow, watchElections } from './elections.ts';
import { Inspector, inspectorUrl } from './inspector.ts';
import { rssBytes, sleep } from './procs.ts';
import type { Target } from './report.ts';
import { encodeCommand, RespClient } from './resp-client.ts';
import { startRaftKV } from './systems/raftkv.ts';

export const TYPE_MEMBERS = 100_000;
const BATCH = 1000;
const IN_FLIGHT = 4;

export interface TypeRow {
  type: string;
  /** RSS bytes gained per member, or null when the build lacks the type's commands. */
  raftkvBytes: number | null;
  redisBytes: number | null;
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

/**
 * Each type's bytes per member on a fresh RaftKV cluster's leader (compiled `main`) and on Redis
 * (RSS steps, same order on both). The cluster is stopped afterwards.
 */
export async function typeMemory(
  main: string,
  redis: { port: number; pid: number },
  log: (msg: string) => void,
  elections: ElectionWindow[],
  n = TYPE_MEMBERS,
): Promise<TypeRow[]> {
  // process.env is what the harness passes to its nodes (as memory-breakdown.ts does).
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} --inspect=127.0.0.1:0`;
  const h = await startRaftKV(main).finally(() => {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  });
  try {
    const leader = await h.waitLeader();
    const insp = await Inspector.connect(inspectorUrl(leader));
    const settled = async () => {
      await insp.call('HeapProfiler.collectGarbage');
      await sleep(500);
      return rssBytes(leader.proc!.pid!);
    };
    const rows: TypeRow[] = [];
    try {
      for (const type of TYPES) {
        // A new key per call: a run repeated after a leader change must not refill Redis's old one.
        const key = `mem:${type}:${++calls}`;
        const r0 = await settled();
        log(`memory per type: ${n} ${type} members into RaftKV`);
        let raftkvBytes: number | null = null;
        try {
          await watchElections(h, `memory: 100k ${type} members`, elections, async () => {
            await loadType(leader.port, type, n, key);
            await caughtUp(h);
          });
          raftkvBytes = ((await settled()) - r0) / n;
        } catch (err) {
          if (!(err instanceof TypeNotBuiltError)) throw err;
          log(`memory per type: RaftKV has no ${type} commands yet (${err.message})`);
        }
        const q0 = await rssBytes(redis.pid);
        await loadType(redis.port, type, n, key);
        await sleep(500);
        rows.push({ type, raftkvBytes, redisBytes: ((await rssBytes(redis.pid)) - q0) / n });
      }
    } finally {
      insp.close();
    }
    return rows;
  } finally {
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
