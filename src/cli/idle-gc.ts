/**
 * Garbage left resident once a node goes idle. V8 collects the old generation when it reaches a
 * limit set at the previous major GC (up to 4x what survived it), and its memory reducer only
 * acts once the allocation rate has looked low for several seconds (~40 s after a 1M-key load
 * here): a node that took a write load keeps that load's dead objects and buffers in RSS until
 * then. So once the event loop has been idle for a while and the heap plus external memory
 * have grown well past what the last major GC kept, this asks V8 for its ordinary incremental
 * major GC, the concurrent one it runs under load, whose pauses are a few ms; not `gc()`, a
 * full atomic collection that stalls the loop ~0.5 s at 1M keys (longer than a heartbeat gap
 * an election timeout tolerates). Process-level, like runtime.ts: nothing replicated sees it.
 *
 * How: V8 starts incremental marking when the external memory registered with it passes 64 MiB
 * over what it was at the last major GC (Isolate::AdjustAmountOfExternalAllocatedMemory, the
 * hint an embedder gives for memory JavaScript objects keep alive). An uninitialized buffer of
 * that size is registered at once and, above MALLOC_MMAP_THRESHOLD_, is a fresh mapping whose
 * pages are never touched: no RSS. It is garbage at once and goes with the collection it
 * starts. Measurements: docs/performance.md ("Memory (1M keys)").
 */
import { constants, type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** Satisfied by a pino logger. */
export interface IdleGcLogger {
  info(obj: object, msg: string): void;
}

export const IDLE_GC_DEFAULTS = {
  /** How often the loop's utilization and the heap are sampled. */
  checkMs: 250,
  /** Consecutive samples the loop must have been idle for (0.5 s at the default check). */
  idleChecks: 2,
  /** Busy fraction of a sample below which the loop counts as idle. */
  maxUtilization: 0.05,
  /** Growth since the last major GC that is worth a collection: this share of what it kept... */
  minGrowthShare: 0.1,
  /** ...and at least this many bytes. */
  minGrowthBytes: 16 * 2 ** 20,
} as const;

export type IdleGcOptions = { -readonly [K in keyof typeof IDLE_GC_DEFAULTS]?: number };

/** V8's soft step for external memory between major GCs (kExternalAllocationSoftLimit), plus a margin. */
const EXTERNAL_NUDGE_BYTES = 65 * 2 ** 20;

function heapAndExternal(): { used: number; external: number } {
  const s = getHeapStatistics();
  return { used: s.used_heap_size, external: s.external_memory };
}

/** Starts the idle check; returns what stops it. The timer does not keep the process alive. */
export function startIdleGc(log: IdleGcLogger, options: IdleGcOptions = {}): () => void {
  const o = { ...IDLE_GC_DEFAULTS, ...options };
  // What the last major GC kept, read when its entry is delivered (just after it).
  let kept = heapAndExternal();
  // At most one nudge per major GC: if V8 ever ignores it, the node does not nudge forever.
  // The loop's delays while the collection it asked for runs: the stall it costs, logged.
  let nudged: { at: number; used: number; external: number; delay: IntervalHistogram } | null = null;
  const observer = new PerformanceObserver((list) => {
    if (!list.getEntries().some((e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) return;
    kept = heapAndExternal();
    if (nudged) {
      nudged.delay.disable();
      const freed = nudged.used + nudged.external - kept.used - kept.external;
      const afterMs = Math.round(performance.now() - nudged.at);
      log.info({ freedMiB: Math.round(freed / 2 ** 20), afterMs, maxLoopDelayMs: Math.round(nudged.delay.max / 1e6) }, 'idle: major GC done');
      nudged = null;
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  let elu = performance.eventLoopUtilization();
  let idleFor = 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    idleFor = performance.eventLoopUtilization(now, elu).utilization < o.maxUtilization ? idleFor + 1 : 0;
    elu = now;
    if (idleFor < o.idleChecks || nudged) return;
    const cur = heapAndExternal();
    const growth = cur.used + cur.external - kept.used - kept.external;
    if (growth < Math.max(o.minGrowthBytes, o.minGrowthShare * (kept.used + kept.external))) return;
    nudged = { at: performance.now(), ...cur, delay: monitorEventLoopDelay({ resolution: 10 }) };
    nudged.delay.enable();
    // Another nudge must wait for the GC's entry (which clears `nudged`).
    void Buffer.allocUnsafeSlow(EXTERNAL_NUDGE_BYTES + Math.max(0, kept.external - cur.external));
    log.info({ growthMiB: Math.round(growth / 2 ** 20) }, 'idle: asked V8 for a major GC');
  }, o.checkMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    observer.disconnect();
    nudged?.delay.disable();
  };
}
