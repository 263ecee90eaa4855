/**
 * One Ready pass for every group of a node per event-loop turn (issue 13). Each group's Ready
 * loop defers its runs (ready-loop.ts `LoopScheduler`); on a multi-group node they all defer to
 * this one scheduler, which runs every group's pending run in one setImmediate callback, in the
 * order they asked. So what the groups save in a turn is one synchronous stretch, one batch of
 * the shared engine and one fsync (src/storage/engine.ts), and what they send to a peer leaves
 * in one frame, instead of a round per group per turn that each pays its own write and syscalls.
 */
import type { LoopScheduler } from '../ready-loop.ts';

export class SharedTurn implements LoopScheduler {
  private pending: (() => void)[] = [];
  private armed = false;

  defer(fn: () => void): void {
    this.pending.push(fn);
    if (this.armed) return;
    this.armed = true;
    setImmediate(this.run);
  }

  now(): number {
    return performance.now();
  }

  private readonly run = (): void => {
    this.armed = false;
    const fns = this.pending;
    this.pending = [];
    for (const fn of fns) fn();
  };
}
