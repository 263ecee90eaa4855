/**
 * Where a node's memory goes once it holds N keys. Loads a 3-node cluster (compiled, as the
 * bench runs it) the way the --memory bench does, then per node, through the inspector protocol (nodes run with --inspect on loopback):
 * RSS (anonymous / file-backed) and process.memoryUsage() as the bench sees them, again after a
 * forced full GC (what is retained versus garbage not yet collected), the V8 heap per space,
 * and the raft log held. --passes N writes the key set N times (steady state under writes:
 * several snapshots and compactions instead of one). With --heap-snapshot each node also writes a V8 heap snapshot into
 * --dir (summarize it with heap-summary.ts).
 *
 * --history first replays what the full bench does before its memory part (the closed-loop SET
 * loads at 1-256 clients, redis-benchmark SETs, FLUSHALL), which leaves the leader larger.
 *
 *   npx tsx test/bench/memory-breakdown.ts [--keys 1000000] [--passes 1] [--history] [--heap-snapshot] [--dir DIR] [--main DIST/cli/main.js]
 *                                          [-- extra node args, e.g. --snapshot-keep-entries 100]
 */
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterHarness } from '../support/cluster-harness.ts';
import { Inspector, inspectorUrl, memoryOf } from './inspector.ts';
import { LoadReplyError, loadKeys, raftkvRss } from './memory.ts';
import { rssBytes, sleep } from './procs.ts';
import { RB_CONFIGS, redisBenchmark } from './redis-benchmark.ts';
import { RespClient } from './resp-client.ts';
import { buildRaftKV, raftkvLoad, startRaftKVWith } from './systems/raftkv.ts';

const { values, positionals } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    passes: { type: 'string', default: '1' },
    'heap-snapshot': { type: 'boolean', default: false },
    history: { type: 'boolean', default: false },
    dir: { type: 'string', default: tmpdir() },
    /** Another build's compiled cli/main.js (e.g. from compileRevision), to compare two builds. */
    main: { type: 'string' },
  },
  allowPositionals: true,
});

async function heapSnapshot(insp: Inspector, file: string): Promise<void> {
  const out = createWriteStream(file);
  insp.onEvent = (method, params) => {
    if (method === 'HeapProfiler.addHeapSnapshotChunk') out.write(params.chunk as string);
  };
  await insp.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  await new Promise((resolve) => out.end(resolve));
}

async function replayBenchHistory(h: ClusterHarness): Promise<void> {
  for (const clients of [1, 16, 64, 256]) await raftkvLoad(await h.waitLeader(), clients, 5);
  const leader = await h.waitLeader();
  for (const cfg of RB_CONFIGS) await redisBenchmark('raftkv', leader.port, 'set', cfg, 20_000);
  const c = await RespClient.connect((await h.waitLeader()).port);
  await c.command('FLUSHALL');
  c.close();
}

async function main(): Promise<void> {
  // Every node serves the inspector on a loopback port of its own.
  const h = await startRaftKVWith(values.main ?? (await buildRaftKV()), positionals, '--inspect=127.0.0.1:0');
  try {
    if (values.history) await replayBenchHistory(h);
    for (let i = 1; i < Number(values.passes); i++) {
      // A pass that hits a leader change (MOVED) is simply rewritten on the new leader.
      for (let attempt = 0; ; attempt++) {
        try {
          await loadKeys((await h.waitLeader()).port, Number(values.keys));
          break;
        } catch (err) {
          if (!(err instanceof LoadReplyError) || attempt >= 3) throw err;
          console.error(`pass ${i}: ${err.message}; retrying`);
          await sleep(1000);
        }
      }
    }
    // RSS as the bench samples it (2 s after the last node applied), then later: what garbage
    // of the load stays resident while the node idles.
    const rss = { at2s: await raftkvRss(h, Number(values.keys)), at5s: {} as Record<string, number>, at10s: {} as Record<string, number> };
    await sleep(3000);
    for (const n of h.nodes) rss.at5s[n.id] = (await rssBytes(n.proc!.pid!)) / 2 ** 20;
    await sleep(5000);
    for (const n of h.nodes) rss.at10s[n.id] = (await rssBytes(n.proc!.pid!)) / 2 ** 20;
    console.log(JSON.stringify({ rssMiB: rss }));
    for (const n of h.nodes) {
      const st = await h.status(n);
      const insp = await Inspector.connect(inspectorUrl(n));
      const before = await memoryOf(insp, n);
      // The forced GC's round trip: an upper bound on one full GC's pause (it runs two).
      const t0 = performance.now();
      await insp.call('HeapProfiler.collectGarbage');
      const gcMs = Math.round(performance.now() - t0);
      await sleep(500);
      const afterGc = await memoryOf(insp, n);
      console.log(JSON.stringify({ node: n.id, role: st?.role, lastIndex: st?.last_index, snapshotIndex: st?.snapshot_index, before, gcMs, afterGc }));
      if (values['heap-snapshot']) {
        const file = join(values.dir, `raftkv-${n.id}-${values.keys}.heapsnapshot`);
        await heapSnapshot(insp, file);
        console.log(`${n.id}: heap snapshot ${file}`);
      }
      insp.close();
    }
  } finally {
    await h.stop();
  }
}

await main();
