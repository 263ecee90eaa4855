/**
 * Alternates healthy stretches and faults until the run's end: pick a nemesis, inject, hold,
 * heal, record the window. One fault at a time, so each window's availability is its own;
 * with `overlap`, half the time a second one joins it (a kill during a partition, a
 * membership change under clock skew), and their windows overlap.
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
  /** Now and then inject a second, different fault while the first is in force. */
  overlap: boolean;
}

export class Scheduler {
  readonly windows: FaultWindow[] = [];
  /** Faults in force, oldest first, with their injection times. */
  private current: { fault: Fault; start: number }[] = [];
  private bag: NemesisName[] = [];

  constructor(
    private readonly ctx: NemesisContext,
    private readonly nemeses: readonly NemesisName[],
    private readonly opts: ScheduleOptions,
  ) {}

  /** Nemeses come from a shuffled bag, so even a short run uses each of them. */
  private draw(): NemesisName {
    if (this.bag.length === 0) this.bag = this.ctx.rnd.shuffle(this.nemeses);
    return this.bag.pop()!;
  }

  async run(): Promise<void> {
    const { rnd } = this.ctx;
    while (elapsed() + this.opts.faultMs[0] < this.opts.endAt) {
      await sleep(Math.min(rnd.int(...this.opts.healthyMs), this.opts.endAt - elapsed()));
      if (elapsed() + this.opts.faultMs[0] >= this.opts.endAt) break;
      const names = [this.draw()];
      if (this.opts.overlap && this.nemeses.length > 1 && rnd.chance(0.5)) {
        let second = this.draw();
        if (second === names[0]) second = this.draw();
        if (second !== names[0]) names.push(second);
      }
      for (const [i, name] of names.entries()) {
        // A second fault lands while the first is in force, a little later.
        if (i > 0) await sleep(rnd.int(500, 2000));
        await this.inject(name);
      }
      if (this.current.length === 0) continue;
      await sleep(Math.min(rnd.int(...this.opts.faultMs), this.opts.endAt - elapsed()));
      await this.healCurrent();
    }
  }

  private async inject(name: NemesisName): Promise<void> {
    const start = elapsed();
    try {
      const fault = await NEMESIS_TABLE[name](this.ctx);
      this.current.push({ fault, start });
      this.ctx.log(`${name} ${fault.kind}: ${fault.detail}`);
    } catch (err) {
      const t = elapsed();
      this.windows.push({ nemesis: name, kind: 'error', detail: '', nodes: [], start, healAt: t, end: t, error: (err as Error).message });
      this.ctx.log(`nemesis ${name} could not act: ${(err as Error).message}`);
    }
  }

  /**
   * Heals the faults in force, newest first, except that a membership change completes last:
   * its "heal" adds a member, which needs a quorum that a partition or a kill in force may deny.
   * Also used when the run is cut short.
   */
  async healCurrent(): Promise<void> {
    const order = [...this.current].reverse().sort((a, b) => Number(a.fault.nemesis === 'membership') - Number(b.fault.nemesis === 'membership'));
    this.current = [];
    for (const { fault: f, start } of order) {
      const healAt = elapsed();
      try {
        await f.heal();
      } catch (err) {
        this.ctx.log(`healing ${f.nemesis} failed: ${(err as Error).message}`);
      }
      this.windows.push({ nemesis: f.nemesis, kind: f.kind, detail: f.detail, nodes: f.nodes, start, healAt, end: elapsed() });
    }
  }
}
