/** The shape every load generator (Node RESP, Go etcd) prints as one JSON line. */
export interface LoadResult {
  system: string;
  clients: number;
  ops: number;
  errors: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** CPU the load generator itself used, in cores (1.0 = one core busy the whole run). */
  generatorCpu: number;
  /**
   * With --pids (-pids for etcd-load): per server process, user and system CPU seconds in the
   * measured window from /proc/<pid>/stat (10 ms resolution), and the main thread's part where known.
   */
  nodeCpu?: { user: number; system: number; main?: number }[];
}

/** Server CPU µs per operation in the measured window, summed over the processes; NaN without --pids. */
export function cpuPerOpUs(r: LoadResult): number {
  if (!r.nodeCpu || r.nodeCpu.length === 0 || r.ops === 0) return Number.NaN;
  return (r.nodeCpu.reduce((a, c) => a + c.user + c.system, 0) * 1e6) / r.ops;
}

/** cluster-load.ts's result: the same, plus where the SETs went and what each node spent. */
export interface ClusterLoadResult extends LoadResult {
  /** SETs answered `MOVED` and sent again to the node it named. */
  moved: number;
  /** Per node (in --ports order): SETs it answered in the window. */
  nodeOps: number[];
  /** Per --pids entry: user and system CPU seconds in the window (10 ms resolution), and the main thread's part. */
  nodeCpu: { user: number; system: number; main: number }[];
  /** Per --pids entry: read and write syscalls and bytes written (wchar) in the window. */
  nodeIo: { syscr: number; syscw: number; wchar: number }[];
  /** SETs answered over the whole run, warm-up included. */
  answered: number;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

export function summarize(system: string, clients: number, latenciesMs: Float64Array, errors: number, seconds: number, generatorCpu: number): LoadResult {
  const sorted = latenciesMs.slice().sort();
  return {
    system,
    clients,
    ops: sorted.length,
    errors,
    seconds,
    opsPerSec: sorted.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    p999Ms: percentile(sorted, 99.9),
    generatorCpu,
  };
}
