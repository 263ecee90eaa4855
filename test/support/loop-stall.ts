/**
 * How long a piece of code holds the event loop, measured so that a loaded machine does not
 * distort it: the on-CPU time of the event-loop thread between two consecutive turns of a 1 ms
 * timer (Linux per-thread schedstat, ns resolution; elsewhere process CPU time, an upper bound).
 * It counts the code's synchronous slices and the GC work done on the loop thread, and not the
 * time the OS gives to other processes. perf_hooks.monitorEventLoopDelay, which is wall clock,
 * is reported alongside: on a shared 2-core machine it also counts descheduled time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const schedstat = `/proc/self/task/${process.pid}/schedstat`;

/** Milliseconds of CPU the event-loop thread has run. */
export const loopThreadCpuMs: () => number = existsSync(schedstat)
  ? () => Number(readFileSync(schedstat, 'latin1').split(' ')[0]) / 1e6
  : () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };

export interface LoopStall {
  /** Longest on-CPU stretch of the loop thread between two timer turns. */
  longestSliceMs: number;
  /** monitorEventLoopDelay's maximum (wall clock). */
  delayMaxMs: number;
}

/** Runs `work` while measuring the event loop; `onTick` runs on every timer turn if given. */
export async function measureLoopStall(work: () => Promise<unknown>, onTick?: () => void): Promise<LoopStall> {
  let longest = 0;
  let last = loopThreadCpuMs();
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const timer = setInterval(() => {
    longest = Math.max(longest, loopThreadCpuMs() - last);
    onTick?.();
    last = loopThreadCpuMs();
  }, 1);
  delay.enable();
  try {
    await work();
    longest = Math.max(longest, loopThreadCpuMs() - last);
  } finally {
    clearInterval(timer);
    delay.disable();
  }
  return { longestSliceMs: longest, delayMaxMs: delay.max / 1e6 };
}
