import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/cli/runtime.ts';

const PROBE = fileURLToPath(new URL('./idle-gc-probe.ts', import.meta.url));

interface ProbeResult {
  before: number;
  after: number;
  messages: string[];
}

/** idle-gc-probe.ts in its own process, as a node runs (runtime.ts flags). */
function probe(mode: 'idle' | 'busy' | 'off'): ProbeResult {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, '--import', 'tsx', PROBE, mode], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ProbeResult;
}

const MiB = 2 ** 20;

describe('idle GC (src/cli/idle-gc.ts)', () => {
  it('V8 alone keeps promoted garbage through 3 s of idleness', () => {
    // What makes the next case meaningful: without the nudge nothing is collected.
    const r = probe('off');
    expect(r.after).toBeGreaterThan(r.before - 10 * MiB);
  });

  it('a process gone idle after promoting garbage collects it, through a major GC', () => {
    const r = probe('idle');
    expect(r.messages).toEqual(['idle: asked V8 for a major GC', 'idle: major GC done']);
    // ~60 MiB of the ~200 MiB before were garbage (measured: 206 -> 57 MiB).
    expect(r.after).toBeLessThan(r.before - 50 * MiB);
  });

  it('a busy loop is left alone', () => {
    const r = probe('busy');
    expect(r.messages).toEqual([]);
  });
});
