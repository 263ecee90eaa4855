/**
 * Targeted churn (see the `churn` fault in schedule.ts): while armed, a node is crashed at the
 * moment something specific happens to it, most of the time. Chances are below one so that
 * elections sometimes succeed in between: Figure 8 needs a chain of leaders that each get a
 * little further.
 */
import { mixSeed, Prng } from './prng.ts';
import type { ScheduledFault } from './schedule.ts';

export type Trigger = 'vote' | 'elected' | 'commit' | 'proposal' | 'sent';

const TRIGGER_OF = { voter: 'vote', elected: 'elected', committer: 'commit', proposer: 'proposal', sender: 'sent' } as const;
const CHANCE: Record<Trigger, number> = { vote: 0.8, elected: 0.6, commit: 0.8, proposal: 0.5, sent: 0.3 };
const WHY: Record<Trigger, string> = {
  vote: 'just granted a vote',
  elected: 'just became leader',
  commit: 'just advanced its commit index',
  proposal: 'just took a proposal',
  sent: 'just sent entries with its own saves still queued',
};

export class CrashTriggers {
  private armed: { on: Trigger; until: number; rng: Prng; downtime: number; n: number } | undefined;

  /** Arms the trigger of a targeted churn fault firing at `now`. */
  arm(sf: ScheduledFault, now: number): void {
    const f = sf.fault;
    if (f.kind !== 'churn' || f.target === 'leader' || f.target === 'any') return;
    this.armed = { on: TRIGGER_OF[f.target], until: now + f.duration, rng: new Prng(mixSeed(sf.salt, 1)), downtime: f.downtime, n: sf.n };
  }

  disarm(): void {
    this.armed = undefined;
  }

  /**
   * Whether `on` crashes its node now: how long it stays down, why, and (for a crash inside the
   * Ready, 'elected' and 'proposal') whether the disk catches up first or the queued saves are lost.
   */
  strike(on: Trigger, now: number): { downtime: number; why: string; lose: boolean } | undefined {
    const t = this.armed;
    if (!t || t.on !== on || now > t.until || !t.rng.chance(CHANCE[on])) return undefined;
    return { downtime: t.rng.int(1, t.downtime), why: `churn #${t.n}: ${WHY[on]}`, lose: t.rng.chance(0.5) };
  }
}
