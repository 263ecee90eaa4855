/** The 3-node RaftKV cluster (fsync on, defaults) via the integration-test harness, plus its write load. */
import { fileURLToPath } from 'node:url';
import { ClusterHarness, type NodeHandle } from '../../support/cluster-harness.ts';
import { compileRaftKV } from '../../support/compile-raftkv.ts';
import type { LoadResult } from '../load-result.ts';
import { onCleanup, run } from '../procs.ts';

const LOAD = fileURLToPath(new URL('../resp-load.ts', import.meta.url));

/**
 * src/ compiled as the container image does (the test kit's compileRaftKV, reused while src/ is
 * unchanged), so the benchmark measures the JavaScript that ships rather than tsx's on-the-fly
 * transform of the sources.
 */
export async function buildRaftKV(): Promise<string> {
  return compileRaftKV();
}

/** `main` is a compiled entry from buildRaftKV; without it the nodes run the sources via tsx. */
export async function startRaftKV(main?: string, args: string[] = []): Promise<ClusterHarness> {
  const h = new ClusterHarness({ nodes: 3, main, extraArgs: ['--log-level', 'warn', ...args] });
  onCleanup(() => h.stop());
  await h.start();
  await h.waitLeader();
  return h;
}

/** NODE_OPTIONS for nodes that run the V8 CPU profiler (cpu-prof-preload.mjs; RAFTKV_CPU_PROF_DIR says where). */
export const CPU_PROF_PRELOAD = `--import ${fileURLToPath(new URL('../cpu-prof-preload.mjs', import.meta.url))}`;

/**
 * startRaftKV with `nodeOptions` appended to NODE_OPTIONS and `env` set while the nodes start
 * (the harness passes process.env to them: a preload, the inspector); both are restored after.
 */
export async function startRaftKVWith(
  main: string | undefined,
  args: string[],
  nodeOptions: string,
  env: Record<string, string> = {},
): Promise<ClusterHarness> {
  const saved: Record<string, string | undefined> = { NODE_OPTIONS: process.env.NODE_OPTIONS };
  for (const k of Object.keys(env)) saved[k] = process.env[k];
  process.env.NODE_OPTIONS = `${saved.NODE_OPTIONS ?? ''} ${nodeOptions}`.trim();
  Object.assign(process.env, env);
  try {
    return await startRaftKV(main, args);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Runs resp-load.ts in its own process against `leader` and parses its one JSON line. */
async function respLoad<T>(leader: NodeHandle, clients: number, seconds: number, extra: string[]): Promise<T> {
  const args = ['--import', 'tsx', LOAD, '--port', String(leader.port), '--clients', String(clients), '--seconds', String(seconds)];
  const out = await run(process.execPath, [...args, ...extra]);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

/**
 * Runs the Node RESP load generator in its own process against the leader: SETs, or a `mix`
 * (mix.ts); with `pids`, the servers' CPU in the measured window comes back as `nodeCpu`.
 */
export function raftkvLoad(
  leader: NodeHandle,
  clients: number,
  seconds: number,
  opts: { pids?: number[]; mix?: string; rate?: number } = {},
): Promise<LoadResult> {
  return respLoad<LoadResult>(leader, clients, seconds, [
    ...(opts.pids ? ['--pids', opts.pids.join(',')] : []),
    ...(opts.mix ? ['--mix', opts.mix, '--system', `raftkv-${opts.mix}`] : []),
    ...(opts.rate ? ['--rate', String(opts.rate)] : []),
  ]);
}

/**
 * Two mixes in one generator run, switching every `windowS` seconds (resp-load.ts
 * `--alternate`): [A's result, B's result], each with the node CPU of its own windows.
 */
export function raftkvMixLoad(
  leader: NodeHandle,
  clients: number,
  seconds: number,
  opts: { pids: number[]; mixes: readonly [string, string]; rate: number; windowS?: number },
): Promise<LoadResult[]> {
  const window = String(opts.windowS ?? 1);
  return respLoad<LoadResult[]>(leader, clients, seconds, [
    '--pids',
    opts.pids.join(','),
    '--alternate',
    opts.mixes.join(','),
    '--window',
    window,
    '--rate',
    String(opts.rate),
  ]);
}
