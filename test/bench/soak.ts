/**
 * `npm run bench -- --soak [--soak-minutes 10]` (issue 15 target 5, memory under a steady cache
 * load): 100k keys of 100 bytes, `redis-benchmark -t set,get -c 8 -r 100000 -d 100` looping
 * against the RaftKV leader and against redis-server at the same time, RSS of every RaftKV node
 * and of Redis sampled every 30 s. The static 1M-key figure hides what a running cache keeps:
 * garbage, buffers and the log between snapshots.
 *
 * Target: each node's growth over its own idle RSS (peak sample minus the sample taken before
 * the load) is at most 3x Redis's growth over its idle RSS. Afterwards, with the load stopped,
 * each node says where its memory sits (inspector.ts): RSS, V8 heap per space, external and
 * ArrayBuffer memory, bytes queued on its sockets and the raft log it holds, then the same after
 * a forced full GC, which separates retained data from garbage not yet given back.
 */
import { join } from 'node:path';
import type { ClusterHarness } from '../support/cluster-harness.ts';
import { type ElectionWindow, watchElections } from './elections.ts';
import { Inspector, inspectorUrl, memoryOf } from './inspector.ts';
import { rssBytes, sleep, spawnLogged, tempDir } from './procs.ts';
import type { Target } from './report.ts';

export interface SoakSample {
  /** Seconds since the load started (0: idle, before it). */
  t: number;
  /** Process name (node id, or `redis`) -> RSS MiB. */
  rssMiB: Record<string, number>;
}

export interface SoakNodeMemory {
  node: string;
  role?: string;
  /**
   * The log held in memory: entries with their data there, and their bytes (/v1/cluster
   * `log_memory_entries`, `log_memory_bytes`); older retained entries are on disk only.
   */
  logEntries?: number;
  logMiB?: number;
  before: Record<string, unknown>;
  afterGc: Record<string, unknown>;
}

export interface SoakResult {
  minutes: number;
  /** The node the load was sent to: the leader when it started (roles in `breakdown` are the end's). */
  loadedNode: string;
  intervalSeconds: number;
  samples: SoakSample[];
  /** Per process: idle RSS, peak RSS under load and their difference, MiB. */
  growth: Record<string, { idle: number; peak: number; growth: number }>;
  breakdown: SoakNodeMemory[];
  elections: ElectionWindow[];
}

/** The redis-benchmark command line the issue measured with, looping until killed. */
export function soakArgs(port: number): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '-t', 'set,get', '-c', '8', '-r', '100000', '-d', '100', '-n', '100000', '-l', '-q'];
}

/** Idle, peak and growth per process from the samples (sample 0 is the idle one). */
export function soakGrowth(samples: SoakSample[]): SoakResult['growth'] {
  const out: SoakResult['growth'] = {};
  const idle = samples[0]!.rssMiB;
  for (const name of Object.keys(idle)) {
    const peak = Math.max(...samples.slice(1).map((s) => s.rssMiB[name] ?? Number.NaN));
    out[name] = { idle: idle[name]!, peak, growth: peak - idle[name]! };
  }
  return out;
}

/** One target per RaftKV node: its growth over Redis's (<= 3x). */
export function soakTargets(growth: SoakResult['growth']): Target[] {
  const redis = growth.redis;
  return Object.entries(growth)
    .filter(([name]) => name !== 'redis')
    .map(([name, g]) => {
      const ratio = redis ? g.growth / redis.growth : Number.NaN;
      return {
        name: `soak: ${name} RSS growth vs Redis's`,
        measured: redis
          ? `${ratio.toFixed(2)}x (+${g.growth.toFixed(0)} MiB from ${g.idle.toFixed(0)} vs +${redis.growth.toFixed(0)} from ${redis.idle.toFixed(0)})`
          : 'not measured',
        goal: '<= 3x',
        pass: redis && Number.isFinite(ratio) ? ratio <= 3 : null,
      };
    });
}

async function sampleRss(h: ClusterHarness, redisPid: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of h.nodes) if (n.proc?.pid && n.exitCode === undefined) out[n.id] = (await rssBytes(n.proc.pid)) / 2 ** 20;
  out.redis = (await rssBytes(redisPid)) / 2 ** 20;
  return out;
}

/** Where each node's memory sits, before and after a forced full GC (nodes run with --inspect). */
async function breakdown(h: ClusterHarness): Promise<SoakNodeMemory[]> {
  const out: SoakNodeMemory[] = [];
  for (const n of h.running()) {
    const st = await h.status(n);
    const insp = await Inspector.connect(inspectorUrl(n));
    try {
      const before = await memoryOf(insp, n);
      await insp.call('HeapProfiler.collectGarbage');
      await sleep(500);
      const afterGc = await memoryOf(insp, n);
      out.push({
        node: n.id,
        role: st?.role,
        logEntries: st?.log_memory_entries,
        logMiB: st?.log_memory_bytes !== undefined ? st.log_memory_bytes / 2 ** 20 : undefined,
        before,
        afterGc,
      });
    } finally {
      insp.close();
    }
  }
  return out;
}

/**
 * The soak on a started cluster `h` (whose nodes run with --inspect) and redis-server at
 * `redisPort`: idle sample, `minutes` of load sampled every `intervalSeconds`, then the breakdown.
 */
export async function soak(
  h: ClusterHarness,
  redis: { port: number; pid: number },
  minutes: number,
  log: (msg: string) => void,
  intervalSeconds = 30,
): Promise<SoakResult> {
  const leader = await h.waitLeader();
  // Idle: started, a leader elected, nothing loaded; let start-up garbage settle first.
  await sleep(5000);
  const samples: SoakSample[] = [{ t: 0, rssMiB: await sampleRss(h, redis.pid) }];
  const elections: ElectionWindow[] = [];
  const dir = tempDir('raftkv-bench-soak-');
  await watchElections(h, `soak ${minutes} min`, elections, async () => {
    const loads = [
      spawnLogged('redis-benchmark', soakArgs(leader.port), join(dir, 'raftkv.log')),
      spawnLogged('redis-benchmark', soakArgs(redis.port), join(dir, 'redis.log')),
    ];
    try {
      const t0 = performance.now();
      const end = t0 + minutes * 60_000;
      for (let next = t0 + intervalSeconds * 1000; next <= end + 1; next += intervalSeconds * 1000) {
        await sleep(Math.max(0, next - performance.now()));
        const s = { t: Math.round((performance.now() - t0) / 1000), rssMiB: await sampleRss(h, redis.pid) };
        samples.push(s);
        log(
          `soak ${s.t} s: ${Object.entries(s.rssMiB)
            .map(([k, v]) => `${k} ${v.toFixed(0)}`)
            .join(', ')} MiB`,
        );
      }
    } finally {
      for (const p of loads) p.kill('SIGKILL');
    }
  });
  await sleep(2000);
  log('soak: memory breakdown per node (inspector)');
  return { minutes, loadedNode: leader.id, intervalSeconds, samples, growth: soakGrowth(samples), breakdown: await breakdown(h), elections };
}

/** The soak's rows for the printed table: samples as one line per process, then the breakdown. */
export function renderSoak(r: SoakResult): string {
  const names = Object.keys(r.samples[0]!.rssMiB);
  const lines = [
    `RSS MiB every ${r.intervalSeconds} s under redis-benchmark -t set,get -c 8 -r 100000 -d 100 (${r.minutes} min; first column idle), sent to ${r.loadedNode}, the leader at the start:`,
  ];
  for (const name of names) lines.push(`  ${name.padEnd(6)} ${r.samples.map((s) => (s.rssMiB[name] ?? Number.NaN).toFixed(0).padStart(4)).join(' ')}`);
  lines.push('', 'where the memory sits after the soak (MiB; "after GC" = after a forced full collection):');
  const mib = (x: unknown) => (typeof x === 'number' ? x.toFixed(1) : '?');
  for (const b of r.breakdown) {
    const a = b.before as Record<string, number> & { spaces?: Record<string, number>; sockets?: Record<string, number> };
    const g = b.afterGc as typeof a;
    lines.push(
      `  ${b.node} ${b.role ?? ''}${b.node === r.loadedNode ? ' (took the load)' : ''}: RSS ${mib(a.VmRSS)} (anon ${mib(a.RssAnon)}, file ${mib(a.RssFile)}) -> after GC ${mib(g.VmRSS)}; ` +
        `heap used ${mib(a.heapUsed)} of ${mib(a.heapTotal)} -> ${mib(g.heapUsed)} of ${mib(g.heapTotal)}; external ${mib(a.external)} (ArrayBuffers ${mib(a.arrayBuffers)}) -> ${mib(g.external)}`,
    );
    lines.push(
      `      heap spaces after GC: ${Object.entries(g.spaces ?? {})
        .map(([k, v]) => `${k.replace('_space', '')} ${v}`)
        .join(', ')}; sockets ${a.sockets?.count ?? '?'} holding ${a.sockets?.writableKiB ?? '?'} KiB out, ${a.sockets?.readableKiB ?? '?'} KiB in; ` +
        `log held ${b.logEntries ?? '?'} entries, ${mib(b.logMiB)} MiB; ` +
        // Anonymous memory outside V8's heap and external buffers: LevelDB's memtable and block
        // cache, malloc arenas, and heap pages V8 freed but the allocator kept.
        `native rest after GC ${mib(g.RssAnon - g.heapTotal - g.external)}`,
    );
  }
  return lines.join('\n');
}
