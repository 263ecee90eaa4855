/**
 * The cost of idle groups in one engine: for N groups, each holding what a freshly bootstrapped
 * group holds (three membership entries, the hard state, the cluster id), the bytes on disk after
 * writing them and after a reopen (LevelDB turns its write-ahead log into a table at open), and
 * the time to open the engine, which lists and verifies every group (median of `--opens`).
 *
 *   npx tsx test/storage/bench-engine.ts [--groups 1,10,100,1000] [--opens 5]
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EntryType } from '../../src/raft/types.ts';
import { StorageEngine } from '../../src/storage/index.ts';

const { values } = parseArgs({ options: { groups: { type: 'string', default: '1,10,100,1000' }, opens: { type: 'string', default: '5' } } });
const OPENS = Number(values.opens);

async function bytesOf(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
  return total;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log('groups  bytes written  bytes after reopen  per group  open ms (median)  open ms per group');
for (const n of values.groups!.split(',').map(Number)) {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-bench-engine-'));
  const e = await StorageEngine.open(dir);
  const voters = ['n1', 'n2', 'n3'];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const s = await e.createGroup(i + 1);
      const entries = voters.map((id, k) => ({
        index: k + 1,
        term: 1,
        type: EntryType.ConfChange,
        data: Buffer.from(JSON.stringify({ type: 'AddVoter', id, host: '127.0.0.1', port: 6379 + k, httpPort: 8080 + k })),
      }));
      await s.setClusterId('0123456789abcdef');
      await s.save({ entries, hardState: { term: 1, vote: '', commit: 3 } });
    }),
  );
  await e.close();
  const written = await bytesOf(dir);
  const times: number[] = [];
  for (let k = 0; k < OPENS; k++) {
    const t0 = performance.now();
    const again = await StorageEngine.open(dir);
    times.push(performance.now() - t0);
    if (again.groupIds().length !== n) throw new Error(`expected ${n} groups, found ${again.groupIds().length}`);
    await again.close();
  }
  const reopened = await bytesOf(dir);
  const ms = median(times);
  console.log(
    [
      String(n).padStart(6),
      String(written).padStart(14),
      String(reopened).padStart(19),
      String(Math.round(reopened / n)).padStart(10),
      ms.toFixed(1).padStart(17),
      (ms / n).toFixed(2).padStart(18),
    ].join(' '),
  );
  await rm(dir, { recursive: true, force: true });
}
