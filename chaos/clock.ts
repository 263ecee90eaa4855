/**
 * The run's clock: milliseconds since the harness started, from the monotonic clock, so that
 * history times, fault windows and TTL bounds all share one origin and never jump.
 */
const origin = performance.now();

export function elapsed(): number {
  return Math.round((performance.now() - origin) * 100) / 100;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
