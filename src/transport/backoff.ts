/**
 * Exponential reconnect backoff with "equal jitter": the n-th consecutive failure waits a
 * uniformly random time in [d/2, d] where d = min(maxMs, minMs · 2^n). The random half keeps
 * nodes that lost a peer at the same instant from redialling in lockstep; the fixed half keeps
 * a flapping peer from being hammered.
 */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

export class BackoffConfigError extends Error {
  override name = 'BackoffConfigError';
}

export function checkBackoff(opts: BackoffOptions): void {
  if (!(opts.minMs > 0 && opts.maxMs >= opts.minMs)) {
    throw new BackoffConfigError(`backoff needs 0 < minMs <= maxMs, got ${opts.minMs}..${opts.maxMs}`);
  }
}

export class Backoff {
  private failures = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number,
  ) {
    checkBackoff(opts);
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.minMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  /** A link came up: the next failure starts from minMs again. */
  reset(): void {
    this.failures = 0;
  }
}
