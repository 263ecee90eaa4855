/**
 * The record of a run: a 64-bit hash over every event (two FNV-1a lanes), always kept, so two
 * runs of one seed can be compared bit for bit; and, when asked for, readable lines.
 */
export const TraceKind = {
  /** Faults, heals, crashes and restarts. */
  Fault: 'fault',
  /** Leadership and membership changes. */
  Cluster: 'cluster',
  Client: 'client',
  /** Individual messages and ticks (verbose). */
  Net: 'net',
} as const;
export type TraceKind = (typeof TraceKind)[keyof typeof TraceKind];

export interface TraceLine {
  step: number;
  time: number;
  kind: TraceKind;
  text: string;
}

export class Tracer {
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193 ^ 0x9e3779b9;
  readonly lines: TraceLine[] = [];

  constructor(readonly enabled: boolean) {}

  /** Folds numbers into the hash. */
  mix(...values: number[]): void {
    for (const v of values) {
      const x = v | 0;
      this.h1 = Math.imul(this.h1 ^ x, 0x01000193) >>> 0;
      this.h2 = Math.imul(this.h2 ^ ((x >>> 16) | (x << 16)), 0x5bd1e995) >>> 0;
      this.h2 = (this.h2 ^ (this.h2 >>> 13)) >>> 0;
    }
  }

  mixText(text: string): void {
    for (let i = 0; i < text.length; i++) this.mix(text.charCodeAt(i));
  }

  /**
   * Records a line. Network lines are built only when tracing (they are hashed as numbers by the
   * caller); every other line is hashed too, so the hash never depends on tracing.
   */
  line(step: number, time: number, kind: TraceKind, text: string): void {
    if (kind !== TraceKind.Net) this.mixText(text);
    if (this.enabled) this.lines.push({ step, time, kind, text });
  }

  get hash(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0');
  }
}

export function formatLine(l: TraceLine): string {
  return `[${String(l.step).padStart(6)} t=${String(l.time).padStart(6)}] ${l.text}`;
}
