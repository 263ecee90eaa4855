/**
 * Each node's sense of time: its own clock (an offset and a drifting rate over the simulated
 * time, so leases and TTLs meet skew and drift) and whether its event loop is stalled. Kept
 * apart from the event loop so the arithmetic every tick and lease depends on is in one place.
 */
import type { NodeId } from '../../src/raft/index.ts';
import type { Prng } from './prng.ts';
import { TICK } from './schedule.ts';

/** The simulated clock's time 0 as a Unix time in ms (one time unit is a millisecond). */
export const EPOCH_MS = 1_700_000_000_000;

export class NodeClocks {
  /** Each node's clock: wall = EPOCH_MS + offset + time * rate, monotonic = time * rate; ticks every TICK / rate. */
  private readonly clocks = new Map<NodeId, { offset: number; rate: number }>();
  /** Nodes whose event loop is stalled, until when. */
  private readonly stalledUntil = new Map<NodeId, number>();

  constructor(private readonly rng: Prng) {}

  /** A new node's clock: an offset within ±skew ms and a rate within 1 ± drift. */
  add(id: NodeId, skew: number, drift: number): void {
    this.clocks.set(id, { offset: skew > 0 ? this.rng.int(-skew, skew) : 0, rate: 1 + (this.rng.float() * 2 - 1) * drift });
  }

  wall(id: NodeId, time: number): number {
    const c = this.clocks.get(id)!;
    return Math.floor(EPOCH_MS + c.offset + time * c.rate);
  }

  mono(id: NodeId, time: number): number {
    return time * this.clocks.get(id)!.rate;
  }

  /** Time units between two ticks of `id`: TICK on its own clock. */
  tickEvery(id: NodeId): number {
    return TICK / this.clocks.get(id)!.rate;
  }

  jump(id: NodeId, by: number): void {
    this.clocks.get(id)!.offset += by;
  }

  /** `id`'s event loop stops until `until` (or longer, if it already stopped for longer). */
  stall(id: NodeId, until: number): void {
    this.stalledUntil.set(id, Math.max(this.stalledUntil.get(id) ?? 0, until));
  }

  /** When `id`'s event loop runs again, if it is stalled at `time`. */
  stalled(id: NodeId, time: number): number | undefined {
    const until = this.stalledUntil.get(id);
    return until !== undefined && until > time ? until : undefined;
  }

  /** Healing: every event loop runs again. */
  unstallAll(): void {
    this.stalledUntil.clear();
  }
}
