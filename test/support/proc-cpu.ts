/**
 * CPU time of a process from /proc/<pid>/stat (utime + stime, fields 14 and 15, in clock ticks
 * of 1/100 s on Linux), for tests that bound what an idle or refused node burns.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** Seconds of CPU (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** The share of one core each process used over `ms` of wall time (0.3 = 30 %). */
export async function cpuShare(pids: number[], ms: number): Promise<number[]> {
  const before = pids.map(cpuSeconds);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const wall = (performance.now() - t0) / 1000;
  return pids.map((pid, i) => (cpuSeconds(pid) - before[i]) / wall);
}
