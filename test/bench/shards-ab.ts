/**
 * A/B of the shard comparison (issue 13): the same `shardRun` (shards.ts) for two builds,
 * alternating A and B in one run, so that a change's effect on CPU per SET is told apart from
 * the load of a shared machine (the figure to trust there is the ratio within one round, not
 * one build's absolute numbers across runs).
 *
 * A is a git revision of this repository (default `main`), compiled like the image by the test
 * kit's compileRevision; B is the working tree (buildRaftKV).
 *
 *   npx tsx test/bench/shards-ab.ts [--base main] [--shards 1,9] [--rounds 2] [--clients 256] [--seconds 5] [--warmup 3]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { compileRevision } from '../support/compile-raftkv.ts';
import { cleanup, installSignalCleanup } from './procs.ts';
import { type ShardRow, shardRun, WARMUP_S } from './shards.ts';
import { buildRaftKV } from './systems/raftkv.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'main' },
    shards: { type: 'string', default: '1,9' },
    rounds: { type: 'string', default: '2' },
    clients: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: String(WARMUP_S) },
  },
});

const log = (msg: string) => console.error(`[ab ${new Date().toISOString().slice(11, 19)}] ${msg}`);

installSignalCleanup();
try {
  const counts = values.shards.split(',').map(Number);
  const builds = { A: compileRevision(values.base), B: await buildRaftKV() };
  const rows: { round: number; build: 'A' | 'B'; load: number; row: ShardRow }[] = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    // A first in odd rounds, B first in even ones: neither always gets the quieter minute.
    const order: ('A' | 'B')[] = round % 2 === 1 ? ['A', 'B'] : ['B', 'A'];
    for (const build of order) {
      for (const n of counts) {
        const load = loadavg()[0]!;
        const row = await shardRun(builds[build], n, Number(values.clients), Number(values.seconds), log, Number(values.warmup));
        rows.push({ round, build, load, row });
        log(
          `round ${round} ${build} shards ${n}: ${row.cpuPerSetUs.toFixed(0)} us/SET, ${row.load.opsPerSec.toFixed(0)} SET/s, ` +
            `${row.peer.messagesPerSet.toFixed(2)} msgs/SET, ${row.peer.framesPerSet.toFixed(2)} frames/SET (load ${load.toFixed(1)})`,
        );
      }
    }
  }
  console.log(`A = ${values.base}, B = working tree; CPU us per SET (SET/s, msgs/SET, frames/SET), load average 1 min`);
  console.log(['round', 'build', ...counts.map((n) => `shards ${n}`), counts.length === 2 ? `${counts[1]} vs ${counts[0]}` : ''].join(' | '));
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const build of ['A', 'B'] as const) {
      const mine = rows.filter((r) => r.round === round && r.build === build);
      const cells = mine.map(
        (r) =>
          `${r.row.cpuPerSetUs.toFixed(0)} (${(r.row.load.opsPerSec / 1000).toFixed(1)}k/s, ${r.row.peer.messagesPerSet.toFixed(2)}, ${r.row.peer.framesPerSet.toFixed(2)}; load ${r.load.toFixed(1)})`,
      );
      const ratio = mine.length === 2 ? `${(mine[1]!.row.cpuPerSetUs / mine[0]!.row.cpuPerSetUs).toFixed(2)}x` : '';
      console.log([round, build, ...cells, ratio].join(' | '));
    }
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await cleanup();
}
