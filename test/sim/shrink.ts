/**
 * Shrinking a failing seed to a short, readable run that still breaks the same invariant:
 * stop at the violation, cut steps, drop scheduled faults (ddmin-style chunks), calm the network,
 * switch off automatic snapshots, use fewer clients. Every candidate is a full deterministic
 * rerun, so the result replays exactly with the options it reports.
 */
import { type RunOptions, type RunResult, runSeed } from './simulation.ts';

export interface Shrunk {
  options: RunOptions;
  result: RunResult;
  /** Reruns spent. */
  runs: number;
}

export async function shrink(options: RunOptions, failed: RunResult, maxRuns = 120): Promise<Shrunk> {
  const s = new Shrinker(options, failed, maxRuns);
  // Faults scheduled after the violation never fired.
  const late = failed.faults.filter((f) => f.at > failed.violation!.time).map((f) => f.n);
  await s.attempt({ ...options, skipFaults: new Set([...(options.skipFaults ?? []), ...late]) });
  await s.cutSteps();
  await s.dropFaults();
  const knobs: Partial<RunOptions>[] = [{ calm: true }, { noAutoSnapshots: true }, { clients: 1 }, { clients: 2 }];
  for (const knob of knobs) {
    if (knob.clients !== undefined && knob.clients >= s.best.result.profile.clients) continue;
    await s.attempt({ ...s.best.options, ...knob });
  }
  await s.dropFaults();
  await s.cutSteps();
  return { ...s.best, runs: s.runs };
}

class Shrinker {
  best: Shrunk;
  runs = 0;
  private readonly target: string;

  constructor(
    options: RunOptions,
    failed: RunResult,
    private readonly maxRuns: number,
  ) {
    this.best = { options, result: failed, runs: 0 };
    this.target = failed.violation!.invariant;
  }

  /** Reruns `candidate`; keeps it if it breaks the same invariant. */
  async attempt(candidate: RunOptions): Promise<boolean> {
    if (this.runs >= this.maxRuns) return false;
    this.runs++;
    const result = await runSeed({ ...candidate, trace: false });
    if (result.violation?.invariant !== this.target) return false;
    this.best = { options: candidate, result, runs: this.runs };
    return true;
  }

  /** A violation in the chaos phase reproduces with the phase ending right there; then try shorter. */
  async cutSteps(): Promise<void> {
    const v = this.best.result.violation!;
    if (v.step < this.best.options.steps) await this.attempt({ ...this.best.options, steps: v.step });
    for (const fraction of [0.25, 0.5, 0.75, 0.9]) {
      const steps = Math.floor(this.best.options.steps * fraction);
      if (steps > 0 && (await this.attempt({ ...this.best.options, steps }))) {
        await this.cutSteps();
        return;
      }
    }
  }

  async dropFaults(): Promise<void> {
    const { options, result } = this.best;
    let candidates = result.faults.filter((f) => !options.skipFaults?.has(f.n) && f.at <= result.time).map((f) => f.n);
    for (let chunk = Math.ceil(candidates.length / 2); chunk >= 1; chunk = chunk === 1 ? 0 : Math.ceil(chunk / 2)) {
      for (let start = 0; start < candidates.length; ) {
        const dropping = candidates.slice(start, start + chunk);
        const skip = new Set([...(this.best.options.skipFaults ?? []), ...dropping]);
        if (await this.attempt({ ...this.best.options, skipFaults: skip })) candidates = candidates.filter((n) => !dropping.includes(n));
        else start += chunk;
      }
    }
  }
}
