/** Runs Debian's redis-benchmark for one test (SET or GET) and configuration, parsing its --csv output. */
import { run } from './procs.ts';

export const RB_CONFIGS = [
  { label: '-c 50 -P 1', clients: 50, pipeline: 1 },
  { label: '-c 50 -P 16', clients: 50, pipeline: 16 },
  { label: '-c 1 -P 1', clients: 1, pipeline: 1 },
] as const;
export type RbConfig = (typeof RB_CONFIGS)[number];
export type RbTest = 'set' | 'get';

export interface RbResult {
  system: string;
  test: RbTest;
  config: RbConfig['label'];
  requests: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export class RedisBenchmarkOutputError extends Error {
  constructor(out: string) {
    super(`cannot parse redis-benchmark output: ${out.slice(0, 500)}`);
  }
}

export async function redisBenchmark(system: string, port: number, test: RbTest, cfg: RbConfig, requests: number): Promise<RbResult> {
  const out = await run('redis-benchmark', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    test,
    '-n',
    String(requests),
    '-c',
    String(cfg.clients),
    '-P',
    String(cfg.pipeline),
    '-d',
    '16',
    '-r',
    '100000',
    '--csv',
  ]);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const row = out.split('\n').find((l) => l.startsWith(`"${test.toUpperCase()}"`));
  if (!row) throw new RedisBenchmarkOutputError(out);
  const f = row.split(',').map((s) => Number(s.replaceAll('"', '')));
  if (f.length < 8 || !Number.isFinite(f[1])) throw new RedisBenchmarkOutputError(out);
  return { system, test, config: cfg.label, requests, opsPerSec: f[1]!, p50Ms: f[4]!, p99Ms: f[6]! };
}
