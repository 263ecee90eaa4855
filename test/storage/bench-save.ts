/**
 * save() throughput and latency with real fsyncs: rounds of N saves issued in one turn (one
 * group commit each), and N independent writers that each await their own save (their writes
 * meet in whatever batch is next). One 100-byte entry per save.
 *
 * Usage: npx tsx test/storage/bench-save.ts [seconds per case, default 2]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType } from '../../src/raft/types.ts';
import { LevelStorage } from '../../src/storage/index.ts';

const seconds = Number(process.argv[2] ?? 2);
const payload = new Uint8Array(100).fill(7);

interface Result {
  entries: number;
  batches: number;
  elapsedMs: number;
  latencies: number[];
  fsyncs: number[];
}

async function bench(mode: 'one turn' | 'independent', n: number): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-bench-'));
  const s = await LevelStorage.open(dir);
  const fsyncs: number[] = [];
  s.onFsync = (ms) => fsyncs.push(ms);
  const latencies: number[] = [];
  let last = 0;
  const save = async () => {
    const index = ++last;
    const t0 = performance.now();
    await s.save({ entries: [{ index, term: 1, type: EntryType.Normal, data: payload }], hardState: { term: 1, vote: 'n1', commit: index - 1 } });
    latencies.push(performance.now() - t0);
  };
  const b0 = s.stats().batches;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  if (mode === 'one turn') {
    while (performance.now() < deadline) await Promise.all(Array.from({ length: n }, save));
  } else {
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (performance.now() < deadline) await save();
      }),
    );
  }
  const elapsedMs = performance.now() - start;
  const batches = s.stats().batches - b0;
  await s.close();
  await rm(dir, { recursive: true, force: true });
  return { entries: last, batches, elapsedMs, latencies, fsyncs };
}

const pct = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

console.log(`save() with fsync, 100-byte entries, ${seconds} s per case, ${tmpdir()}`);
console.log('mode         savers  entries/s  batches/s  entries/batch  save p50 ms  save p99 ms  fsync p50 ms');
for (const mode of ['one turn', 'independent'] as const) {
  for (const n of [1, 16, 64]) {
    const r = await bench(mode, n);
    const perS = (x: number) => ((x * 1000) / r.elapsedMs).toFixed(0);
    console.log(
      [
        mode.padEnd(12),
        String(n).padStart(6),
        perS(r.entries).padStart(10),
        perS(r.batches).padStart(10),
        (r.entries / r.batches).toFixed(1).padStart(14),
        pct(r.latencies, 50).toFixed(2).padStart(12),
        pct(r.latencies, 99).toFixed(2).padStart(12),
        pct(r.fsyncs, 50).toFixed(2).padStart(13),
      ].join(' '),
    );
  }
}
