/**
 * Alternates healthy stretches and faults until the run's end: pick a nemesis, inject, hold,
 * heal, record the window. One fault at a time, so each window's availability is its own.
 */
import { elapsed, sleep } from '../clock.ts';
import { type Fault, NEMESIS_TABLE, type NemesisContext, type NemesisName } from './nemeses.ts';

export interface FaultWindow {
  nemesis: NemesisName;
  kind: string;
  detail: string;
  nodes: string[];
  /** Run clock: injection began, healing began, healing finished. */
  start: number;
  healAt: number;
  end: number;
  /** Set when the nemesis itself could not act (e.g. no leader to remove from). */
  error?: string;
}

export interface ScheduleOptions {
  /** Run clock time at which no new fault starts and the current one is healed. */
  endAt: number;
  healthyMs: [number, number];
  faultMs: [number, number];
}

export class Scheduler {
  readonly windows: FaultWindow[] = [];
  private current?: Fault;

  constructor(
    private readonly ctx: NemesisContext,
    private readonly nemeses: readonly NemesisName[],
    private readonly opts: ScheduleOptions,
  ) {}

  async run(): Promise<void> {
    const { rnd } = this.ctx;
    // Nemeses are drawn from a shuffled bag, so even a short run uses each of them.
    let bag: NemesisName[] = [];
    while (elapsed() + this.opts.faultMs[0] < this.opts.endAt) {
      await sleep(Math.min(rnd.int(...this.opts.healthyMs), this.opts.endAt - elapsed()));
      if (elapsed() + this.opts.faultMs[0] >= this.opts.endAt) break;
      if (bag.length === 0) bag = rnd.shuffle(this.nemeses);
      const name = bag.pop()!;
      const start = elapsed();
      try {
        this.current = await NEMESIS_TABLE[name](this.ctx);
      } catch (err) {
        const t = elapsed();
        this.windows.push({ nemesis: name, kind: 'error', detail: '', nodes: [], start, healAt: t, end: t, error: (err as Error).message });
        this.ctx.log(`nemesis ${name} could not act: ${(err as Error).message}`);
        continue;
      }
      const f = this.current;
      this.ctx.log(`${name} ${f.kind}: ${f.detail}`);
      await sleep(Math.min(rnd.int(...this.opts.faultMs), this.opts.endAt - elapsed()));
      const healAt = elapsed();
      await this.healCurrent();
      this.windows.push({ nemesis: name, kind: f.kind, detail: f.detail, nodes: f.nodes, start, healAt, end: elapsed() });
    }
  }

  /** Heals the fault in force, if any (also used when the run is cut short). */
  async healCurrent(): Promise<void> {
    const f = this.current;
    this.current = undefined;
    if (!f) return;
    try {
      await f.heal();
    } catch (err) {
      this.ctx.log(`healing ${f.nemesis} failed: ${(err as Error).message}`);
    }
  }
}
