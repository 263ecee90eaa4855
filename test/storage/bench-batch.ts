/**
 * The single-group write path's cost per group commit: rounds of `--saves` saves issued in one
 * turn (one 100-byte entry and the hard state each; one LevelDB batch per round), reporting wall
 * and CPU microseconds per batch (CPU includes LevelDB's worker thread), without and with fsync.
 * Each `--src` is a checkout's src/ directory: with two, the same loop runs before and after a
 * change in one process, alternating `--repeat` times so that the machine's load hits both alike,
 * and the medians are compared.
 *
 *   npx tsx test/storage/bench-batch.ts [--src ../base/src --src src] [--rounds 1000] [--saves 20] [--repeat 9]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    src: { type: 'string', multiple: true, default: ['src'] },
    rounds: { type: 'string', default: '1000' },
    saves: { type: 'string', default: '20' },
    repeat: { type: 'string', default: '9' },
  },
});
const ROUNDS = Number(values.rounds);
const SAVES = Number(values.saves);
const REPEAT = Number(values.repeat);
const payload = new Uint8Array(100).fill(7);

interface Storage {
  save(req: unknown): Promise<void>;
  stats(): { batches: number };
  close(): Promise<void>;
}
const sources = await Promise.all(
  values.src!.map(async (src) => {
    const mod = await import(pathToFileURL(resolve(src, 'storage/index.ts')).href);
    return { src, open: (dir: string, sync: boolean): Promise<Storage> => mod.LevelStorage.open(dir, { syncWrites: sync }) };
  }),
);

async function run(open: (dir: string, sync: boolean) => Promise<Storage>, sync: boolean): Promise<{ wallUs: number; cpuUs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-bench-batch-'));
  const s = await open(dir, sync);
  let last = 0;
  const round = () =>
    Promise.all(
      Array.from({ length: SAVES }, () => {
        const index = ++last;
        return s.save({ entries: [{ index, term: 1, type: 0, data: payload }], hardState: { term: 1, vote: 'n1', commit: index - 1 } });
      }),
    );
  for (let i = 0; i < 50; i++) await round(); // warm up
  const b0 = s.stats().batches;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) await round();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const batches = s.stats().batches - b0;
  await s.close();
  await rm(dir, { recursive: true, force: true });
  return { wallUs: (wall * 1000) / batches, cpuUs: (c.user + c.system) / batches };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const sync of [false, true]) {
  const results = sources.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let k = 0; k < REPEAT; k++) {
    for (const [i, source] of sources.entries()) {
      const r = await run(source.open, sync);
      results[i].wall.push(r.wallUs);
      results[i].cpu.push(r.cpuUs);
    }
  }
  for (const [i, source] of sources.entries()) {
    console.log(
      `${source.src} fsync=${sync} ${SAVES} saves/batch, median of ${REPEAT}x${ROUNDS} batches: ` +
        `wall ${median(results[i].wall).toFixed(1)} us/batch, cpu ${median(results[i].cpu).toFixed(1)} us/batch`,
    );
  }
}
