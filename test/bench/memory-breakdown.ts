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
 *   npx tsx test/bench/memory-breakdown.ts [--keys 1000000] [--passes 1] [--history] [--heap-snapshot] [--dir DIR]
 *                                          [-- extra node args, e.g. --snapshot-keep-entries 100]
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ClusterHarness, type NodeHandle } from '../support/cluster-harness.ts';
import { LoadReplyError, loadKeys, raftkvRss } from './memory.ts';
import { sleep } from './procs.ts';
import { RB_CONFIGS, redisBenchmark } from './redis-benchmark.ts';
import { RespClient } from './resp-client.ts';
import { buildRaftKV, raftkvLoad } from './systems/raftkv.ts';

const { values, positionals } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    passes: { type: 'string', default: '1' },
    'heap-snapshot': { type: 'boolean', default: false },
    history: { type: 'boolean', default: false },
    dir: { type: 'string', default: tmpdir() },
  },
  allowPositionals: true,
});

export class InspectorError extends Error {}

/** A minimal Chrome DevTools protocol client: one request at a time, events passed to `onEvent`. */
class Inspector {
  private nextId = 1;
  private pending = new Map<number, (msg: { result?: unknown; error?: { message: string } }) => void>();
  onEvent: (method: string, params: Record<string, unknown>) => void = () => {};

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString());
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg);
      else this.onEvent(msg.method, msg.params);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url, { maxPayload: 2 ** 30 });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Inspector(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      this.pending.set(id, (msg) => {
        this.pending.delete(id);
        if (msg.error) reject(new InspectorError(`${method}: ${msg.error.message}`));
        else resolve(msg.result as T);
      });
    });
  }

  /** Evaluates a JSON-returning expression in the node's main context. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.call<{ result: { value: string } }>('Runtime.evaluate', { expression: `JSON.stringify(${expression})` });
    return JSON.parse(r.result.value) as T;
  }

  close(): void {
    this.ws.close();
  }
}

/** The inspector URL a node printed at startup (its stderr goes to its log file). */
function inspectorUrl(n: NodeHandle): string {
  const m = /Debugger listening on (ws:\/\/\S+)/.exec(readFileSync(n.logFile, 'utf8'));
  if (!m) throw new InspectorError(`${n.id} printed no inspector URL`);
  return m[1];
}

function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|RssAnon|RssFile):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) / 1024;
  }
  return out;
}

const USAGE = `(() => {
  const mb = (x) => Math.round(x / 2 ** 17) / 8;
  const u = process.memoryUsage();
  const spaces = Object.fromEntries(process.getBuiltinModule('v8').getHeapSpaceStatistics()
    .filter((s) => s.space_used_size > 2 ** 20).map((s) => [s.space_name, mb(s.space_used_size)]));
  return { heapTotal: mb(u.heapTotal), heapUsed: mb(u.heapUsed), external: mb(u.external), arrayBuffers: mb(u.arrayBuffers), spaces };
})()`;

async function memoryOf(insp: Inspector, n: NodeHandle): Promise<Record<string, unknown>> {
  return { ...procStatus(n.proc!.pid!), ...(await insp.evaluate<Record<string, unknown>>(USAGE)) };
}

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
  // process.env is what the harness passes to its nodes.
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:0`;
  const main = await buildRaftKV();
  const h = new ClusterHarness({ nodes: 3, main, extraArgs: ['--log-level', 'warn', ...positionals] });
  try {
    await h.start();
    await h.waitLeader();
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
    await raftkvRss(h, Number(values.keys));
    for (const n of h.nodes) {
      const st = await h.status(n);
      const insp = await Inspector.connect(inspectorUrl(n));
      const before = await memoryOf(insp, n);
      await insp.call('HeapProfiler.collectGarbage');
      await sleep(500);
      const afterGc = await memoryOf(insp, n);
      console.log(JSON.stringify({ node: n.id, role: st?.role, lastIndex: st?.last_index, snapshotIndex: st?.snapshot_index, before, afterGc }));
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
