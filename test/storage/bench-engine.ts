/**
 * The cost of groups in one engine.
 *
 * Idle: for N groups, each holding what a freshly bootstrapped group holds (three membership
 * entries, the hard state, the cluster id), the bytes on disk after writing them and after a
 * reopen (LevelDB turns its write-ahead log into a table at open), the time to open the engine,
 * which lists and verifies every group (median of `--opens`), and the heap it then holds.
 *
 * Busy: N groups that each save one 100-byte entry per turn, with fsync, in one engine and in N
 * separate LevelDBs (one per group, as N single-group stores would): native fsyncs per turn and
 * wall and CPU microseconds per group save.
 *
 *   node --expose-gc --import tsx test/storage/bench-engine.ts [--groups 1,10,100,1000] [--opens 5]
 *     [--busy 1,3,9,27] [--turns 300] [--repeat 5]
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EntryType } from '../../src/raft/types.ts';
import { LevelStorage, StorageEngine } from '../../src/storage/index.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '1,10,100,1000' },
    opens: { type: 'string', default: '5' },
    busy: { type: 'string', default: '1,3,9,27' },
    turns: { type: 'string', default: '300' },
    repeat: { type: 'string', default: '5' },
  },
});
const OPENS = Number(values.opens);
const REPEAT = Number(values.repeat);

async function bytesOf(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
  return total;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const heap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

// The first open in a process pays for loading and compiling the code: not a group's cost.
{
  const warm = await mkdtemp(join(tmpdir(), 'raftkv-bench-engine-'));
  await (await StorageEngine.open(warm)).close();
  await rm(warm, { recursive: true, force: true });
}

console.log('idle: groups  bytes written  bytes after reopen  per group  open ms (median)  open ms per group  heap bytes per group');
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
  let heapPerGroup = 0;
  for (let k = 0; k < OPENS; k++) {
    const h0 = heap();
    const t0 = performance.now();
    const again = await StorageEngine.open(dir);
    times.push(performance.now() - t0);
    heapPerGroup = (heap() - h0) / n;
    if (again.groupIds().length !== n) throw new Error(`expected ${n} groups, found ${again.groupIds().length}`);
    await again.close();
  }
  const reopened = await bytesOf(dir);
  const ms = median(times);
  console.log(
    [
      String(n).padStart(12),
      String(written).padStart(14),
      String(reopened).padStart(19),
      String(Math.round(reopened / n)).padStart(10),
      ms.toFixed(1).padStart(17),
      (ms / n).toFixed(2).padStart(18),
      heapPerGroup.toFixed(0).padStart(21),
    ].join(' '),
  );
  await rm(dir, { recursive: true, force: true });
}

const TURNS = Number(values.turns);
const payload = new Uint8Array(100).fill(7);

/** `turns` turns in which every group saves one entry; the native fsyncs are counted by the stores. */
async function busy(stores: LevelStorage[], fsyncs: () => number): Promise<{ fsyncsPerTurn: number; wallUs: number; cpuUs: number }> {
  let index = 0;
  const turn = () => {
    index++;
    return Promise.all(
      stores.map((s) =>
        s.save({ entries: [{ index, term: 1, type: EntryType.Normal, data: payload }], hardState: { term: 1, vote: 'n1', commit: index - 1 } }),
      ),
    );
  };
  for (let i = 0; i < 20; i++) await turn();
  const f0 = fsyncs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < TURNS; i++) await turn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const saves = TURNS * stores.length;
  return { fsyncsPerTurn: (fsyncs() - f0) / TURNS, wallUs: (wall * 1000) / saves, cpuUs: (c.user + c.system) / saves };
}

/** One run of `n` busy groups in `layout`. */
async function busyRun(n: number, layout: 'one engine' | 'one db each') {
  {
    const dirs = await Promise.all(Array.from({ length: layout === 'one engine' ? 1 : n }, () => mkdtemp(join(tmpdir(), 'raftkv-bench-engine-'))));
    let stores: LevelStorage[];
    let fsyncs: () => number;
    let close: () => Promise<void>;
    if (layout === 'one engine') {
      const e = await StorageEngine.open(dirs[0]);
      stores = await Promise.all(Array.from({ length: n }, (_, i) => e.createGroup(i + 1)));
      fsyncs = () => e.stats().syncedBatches;
      close = () => e.close();
    } else {
      stores = await Promise.all(dirs.map((d) => LevelStorage.open(d)));
      fsyncs = () => stores.reduce((sum, s) => sum + s.stats().batches, 0);
      close = async () => {
        for (const s of stores) await s.close();
      };
    }
    const r = await busy(stores, fsyncs);
    await close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    return r;
  }
}

console.log(`\nbusy (medians of ${REPEAT} alternating runs): groups  layout         fsyncs/turn  wall us/save  cpu us/save`);
for (const n of values.busy!.split(',').map(Number)) {
  const layouts = ['one engine', 'one db each'] as const;
  const runs = layouts.map(() => [] as Awaited<ReturnType<typeof busy>>[]);
  for (let k = 0; k < REPEAT; k++) for (const [i, layout] of layouts.entries()) runs[i].push(await busyRun(n, layout));
  for (const [i, layout] of layouts.entries()) {
    const m = (f: (r: Awaited<ReturnType<typeof busy>>) => number) => median(runs[i].map(f));
    const cols = [
      m((r) => r.fsyncsPerTurn)
        .toFixed(2)
        .padStart(11),
      m((r) => r.wallUs)
        .toFixed(1)
        .padStart(13),
      m((r) => r.cpuUs)
        .toFixed(1)
        .padStart(12),
    ];
    console.log([String(n).padStart(50), layout.padEnd(14), ...cols].join(' '));
  }
}
