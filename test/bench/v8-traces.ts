/**
 * Summaries of V8's traces in the nodes' logs, for shard-threads.ts `--v8` (the flags print to
 * the node's stdout, which the harness keeps in each node's log file): how often each function
 * was optimized or deoptimized (`--trace-opt --trace-deopt`: a deoptimization loop would keep
 * V8's compiler threads busy), and the mean of each field per kind of collection
 * (`--trace-gc-nvp`: pause and phases in ms, sizes in bytes).
 */
import { readFileSync } from 'node:fs';

const lines = (files: readonly string[]) => files.flatMap((f) => readFileSync(f, 'utf8').split('\n'));

/** "<event> <function>" -> count, most frequent first. */
export function optimizations(files: readonly string[], top: number): [string, number][] {
  const counts = new Map<string, number>();
  for (const line of lines(files)) {
    const m = /^\[(compiling method|completed compiling|bailout|deoptimizing|marking)([^<]*)<JSFunction ([^ >]+)/.exec(line);
    if (!m) continue;
    // A bailout's reason says why the optimized code was thrown away (wrong map, not a Smi, ...).
    const reason = m[1] === 'bailout' ? (/reason: ([^)]*)\)/.exec(m[2]!)?.[1] ?? '') : '';
    const key = `${m[1]}${reason ? ` (${reason})` : ''} ${m[3]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, top);
}

const GC_FIELDS = ['pause', 'scavenge', 'scavenge.roots', 'scavenge.parallel', 'promoted', 'total_size_before', 'total_size_after', 'mark', 'sweep'] as const;
const isBytes = (field: string) => field.includes('size') || field === 'promoted';

/** One line per kind of collection (gc=s scavenge, gc=mc mark-compact, ...): its count and the mean of each field. */
export function gcSummary(files: readonly string[]): string[] {
  const sums = new Map<string, Map<string, number>>();
  const counts = new Map<string, number>();
  for (const line of lines(files)) {
    const gc = / gc=(\w+) /.exec(line)?.[1];
    if (!gc) continue;
    counts.set(gc, (counts.get(gc) ?? 0) + 1);
    const fields = sums.get(gc) ?? new Map<string, number>();
    for (const m of line.matchAll(/([\w.]+)=([\d.]+)/g)) fields.set(m[1]!, (fields.get(m[1]!) ?? 0) + Number(m[2]));
    sums.set(gc, fields);
  }
  return [...sums].map(([gc, fields]) => {
    const n = counts.get(gc)!;
    const means = GC_FIELDS.filter((f) => fields.has(f)).map((f) => `${f} ${(fields.get(f)! / n).toFixed(isBytes(f) ? 0 : 2)}`);
    return `gc=${gc}: ${n} collections; mean ${means.join(', ')}`;
  });
}
