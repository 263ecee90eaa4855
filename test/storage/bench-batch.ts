/**
 * The single-group write path's cost per group commit: rounds of `--saves` saves issued in one
 * turn (one 100-byte entry and the hard state each; one LevelDB batch per round), reporting wall
 * and CPU microseconds per batch (CPU includes LevelDB's worker thread) with and without fsync.
 * `--src` points at another checkout's src/ so that the same loop can be run before and after a
 * change (an A/B on the same disk, interleaved: `--repeat` alternates nothing, run it twice).
 *
 *   npx tsx test/storage/bench-batch.ts [--src ../other/src] [--rounds 2000] [--saves 20]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { src: { type: 'string', default: 'src' }, rounds: { type: 'string', default: '2000' }, saves: { type: 'string', default: '20' } },
});
const ROUNDS = Number(values.rounds);
const SAVES = Number(values.saves);
const mod = await import(pathToFileURL(resolve(values.src!, 'storage/index.ts')).href);
const payload = new Uint8Array(100).fill(7);

async function run(sync: boolean): Promise<{ wallUs: number; cpuUs: number; batches: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-bench-batch-'));
  const s = await mod.LevelStorage.open(dir, { syncWrites: sync });
  let last = 0;
  const round = () =>
    Promise.all(
      Array.from({ length: SAVES }, () => {
        const index = ++last;
        return s.save({ entries: [{ index, term: 1, type: 0, data: payload }], hardState: { term: 1, vote: 'n1', commit: index - 1 } });
      }),
    );
  for (let i = 0; i < 100; i++) await round(); // warm up
  const b0 = s.stats().batches;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) await round();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const batches = s.stats().batches - b0;
  await s.close();
  await rm(dir, { recursive: true, force: true });
  return { wallUs: (wall * 1000) / batches, cpuUs: (c.user + c.system) / batches, batches };
}

for (const sync of [false, true]) {
  const r = await run(sync);
  console.log(
    `${values.src} sync=${sync} ${SAVES} saves/batch: ${r.batches} batches, wall ${r.wallUs.toFixed(1)} us/batch, cpu ${r.cpuUs.toFixed(1)} us/batch`,
  );
}
