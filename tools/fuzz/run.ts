/**
 * One fuzz run: start a real node from the TypeScript sources (test/support's ClusterHarness),
 * send the target's sessions on several connections at once, and watch the three things that
 * must hold: the process stays up, the probe's well-behaved client gets correct answers within
 * the stall bound, and RSS stays under the bound. A crash or an RSS breach ends the run and
 * leaves a record (seed, iterations, the bytes in flight, the node's log) in the results folder.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterHarness } from '../../test/support/cluster-harness.ts';
import type { FuzzOptions } from './options.ts';
import { ProbeProcess } from './probe-process.ts';
import { sessionRng } from './rng.ts';
import type { Counters, NodeInfo, Session, Target } from './target.ts';

export interface RunSummary {
  iterations: number;
  crashes: number;
  stalls: number;
  /** Stalls the target does not count (see Target.countsStall). */
  memberStalls: number;
  maxRssMib: number;
  /** RSS when the fuzzing began (after start-up and the target's set-up). */
  baseRssMib: number;
  rssExceeded: boolean;
  dir: string;
}

/** A session's bytes in a record are cut here; `--seed` and `--replay` regenerate it whole. */
const RECORD_BYTES = 256 * 1024;
const PROGRESS_MS = 10_000;
/** A rise this large within a second is recorded (the target: +64 MiB per attack). */
const RSS_JUMP_MIB = 64;
const LOOPBACK_ONLY = new URL('./loopback-only.mjs', import.meta.url).href;

function rssKib(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function logTail(file: string, lines: number): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

/**
 * The secret the harness gives its nodes, if it keeps one (`secret`, or `clusterSecret`);
 * else one of ours, passed as a flag (this tree's default would do, but may go away).
 */
function clusterSecretFor(h: ClusterHarness): { secret: string; args: string[] } {
  const held = h as unknown as { secret?: unknown; clusterSecret?: unknown };
  const kept = held.secret ?? held.clusterSecret;
  if (typeof kept === 'string' && kept !== '') return { secret: kept, args: [] };
  const secret = randomBytes(16).toString('hex');
  return { secret, args: ['--cluster-secret', secret] };
}

/** The run's nodes, so that a signal handler can take them down with the fuzzer. */
export let activeHarness: ClusterHarness | undefined;

export async function runFuzz<S extends Session>(o: FuzzOptions, target: Target<S>, log: (line: string) => void): Promise<RunSummary> {
  const dir = join(o.resultsDir, `${o.target}-seed${o.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  // The nodes may dial loopback only, whatever members the inputs add (see loopback-only.mjs).
  const preload = `--import=${LOOPBACK_ONLY}`;
  if (!process.env.NODE_OPTIONS?.includes(preload)) process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' ');
  const harness = new ClusterHarness({ nodes: o.nodes });
  activeHarness = harness;
  const secret = clusterSecretFor(harness);
  harness.extraArgs = [
    ...secret.args,
    ...(o.password ? ['--requirepass', o.password] : []),
    ...(o.maxmemoryMib > 0 ? ['--maxmemory', String(o.maxmemoryMib * 1024 * 1024), '--maxmemory-policy', 'allkeys-lru'] : []),
    // Refused connections log a warning each; FUZZ_NODE_LOG_LEVEL=debug shows everything.
    '--log-level',
    process.env.FUZZ_NODE_LOG_LEVEL ?? 'warn',
  ];
  const summary: RunSummary = { iterations: 0, crashes: 0, stalls: 0, memberStalls: 0, maxRssMib: 0, baseRssMib: 0, rssExceeded: false, dir };
  let probe: ProbeProcess | undefined;
  let rssTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  try {
    await harness.start();
    const node = harness.nodes[0];
    const pid = node.proc!.pid!;
    const info: NodeInfo = {
      pid,
      port: node.port,
      httpPort: node.httpPort,
      nodeId: node.id,
      // The id the node made at bootstrap: the fuzz peer must present it (node/cluster-id.ts).
      clusterId: (await harness.status(node))?.cluster_id ?? '',
      clusterSecret: secret.secret,
      password: o.password,
    };
    const inFlight = new Set<S>();
    /** Why the run ends early (a crash, RSS past its bound, a fuzzer error). */
    let stop: string | undefined;
    probe = new ProbeProcess({ port: node.port, password: o.password, stallMs: o.stallMs, everyMs: o.probeMs, readyTimeoutMs: 30_000 }, (e) => {
      // A dead node stalls every check: the crash is the finding, not them. The probe may see
      // the node gone before its exit event reaches us, so the stall is counted a little later.
      setTimeout(() => {
        if (stop !== undefined) return;
        const counts = target.countsStall?.(Date.parse(e.at)) ?? true;
        if (counts) summary.stalls++;
        else summary.memberStalls++;
        appendFileSync(
          join(dir, 'stalls.jsonl'),
          `${JSON.stringify({ ...e, counts, iteration: summary.iterations, inFlight: [...inFlight].map((s) => s.first) })}\n`,
        );
        log(
          `${counts ? 'stall' : 'member stall'} at iteration ${summary.iterations}: ${e.why} (load ${e.loadavg.toFixed(1)}, probe gap ${e.probeMaxGapMs} ms)`,
        );
      }, 300);
    });
    await probe.whenReady();
    await target.prepare(info);
    log(
      `fuzzing ${o.target}: node ${node.id} pid ${pid}, RESP ${node.port}, HTTP ${node.httpPort}, seed ${o.seed}, ${o.connections} connections, results ${dir}, node data ${harness.root}`,
    );

    const recent: S[] = [];
    const record = (kind: string, extra: Record<string, unknown>) => {
      const sessions = [...inFlight, ...recent.filter((s) => !inFlight.has(s))].map((s) => ({
        first: s.first,
        frames: s.frames,
        replay: `npm run fuzz -- --target ${o.target} --seed ${o.seed} --iterations ${o.iterations} --replay ${s.first}`,
        writes: target.bytesOf(s).map((b) => ({ bytes: b.length, base64: b.subarray(0, RECORD_BYTES).toString('base64') })),
      }));
      const file = join(dir, `${kind}-iteration-${summary.iterations}.json`);
      const logs = Object.fromEntries(harness.nodes.map((h) => [h.id, logTail(h.logFile, 40)]));
      writeFileSync(
        file,
        `${JSON.stringify({ kind, target: o.target, seed: o.seed, runIterations: o.iterations, iteration: summary.iterations, ...extra, logs, sessions }, null, 1)}\n`,
      );
      return file;
    };

    // Past the bound: a record for each time RSS crosses it, and the run goes on (later inputs
    // may find other things); past twice the bound the run stops, to spare the machine.
    const maxRssKib = o.rssLimitMib * 1024;
    summary.baseRssMib = Math.round(rssKib(pid) / 1024);
    let above = false;
    // The last second of samples: a quick rise is recorded when it happens, with the inputs
    // then in flight, since RSS that a heap grew stays high and the bound may be crossed later.
    const window: number[] = [];
    let lastJump = 0;
    rssTimer = setInterval(() => {
      const kib = rssKib(pid);
      const mib = Math.round(kib / 1024);
      summary.maxRssMib = Math.max(summary.maxRssMib, mib);
      window.push(kib);
      if (window.length > 10) window.shift();
      const rise = Math.round((kib - Math.min(...window)) / 1024);
      if (rise >= RSS_JUMP_MIB && Date.now() - lastJump > 2000) {
        lastJump = Date.now();
        log(`RSS rose ${rise} MiB within 1 s (to ${mib} MiB) at iteration ${summary.iterations}; record ${record('rss-jump', { rssMib: mib, riseMib: rise })}`);
      }
      if (kib > maxRssKib && !above) {
        summary.rssExceeded = true;
        log(`RSS ${mib} MiB passed the bound of ${o.rssLimitMib} MiB at iteration ${summary.iterations}; record ${record('rss', { rssMib: mib })}`);
      }
      above = kib > maxRssKib;
      if (kib > 2 * maxRssKib) stop ??= `RSS ${mib} MiB passed twice the bound; record ${record('rss-stop', { rssMib: mib })}`;
    }, 100);
    for (const h of harness.nodes) {
      h.proc!.once('exit', (code, signal) => {
        // Our own kill at the end (or after an RSS breach) is not a crash.
        if (stopping) return;
        summary.crashes++;
        stop ??= `node ${h.id} exited (code ${code}, signal ${signal}); record ${record('crash', { node: h.id, exitCode: code, signal })}`;
      });
    }

    const counters: Counters = { replyBytes: 0, serverClosed: 0 };
    const total = o.iterations;
    // Replaying: exactly the named sessions, all at once. Else every session in order.
    const queue = o.replay.length > 0 ? [...o.replay] : undefined;
    let next = 0;
    const nextFirst = (): number | undefined => (queue ? queue.shift() : next < total ? next : undefined);
    const started = Date.now();
    let lastProgress = started;
    const worker = async () => {
      for (let first = nextFirst(); stop === undefined && first !== undefined; first = nextFirst()) {
        const s = target.generate(sessionRng(o.seed, first), first, total - first);
        if (!queue) next += s.frames;
        // In flight while its connection is open, which for a client that never reads is
        // after the worker has moved on.
        inFlight.add(s);
        const closed = () => {
          inFlight.delete(s);
          recent.push(s);
          if (recent.length > 8) recent.shift();
        };
        try {
          await target.send(s, counters, closed);
        } catch (err) {
          log(`fuzzer error in session at ${s.first}: ${(err as Error).stack ?? String(err)}`);
          stop ??= 'fuzzer error';
        }
        summary.iterations += s.frames;
        if (Date.now() - lastProgress >= PROGRESS_MS) {
          lastProgress = Date.now();
          const secs = (lastProgress - started) / 1000;
          log(
            `progress: ${summary.iterations}/${total} iterations, ${Math.round(summary.iterations / secs)}/s, rss ${Math.round(rssKib(pid) / 1024)} MiB (max ${summary.maxRssMib}), stalls ${summary.stalls}, server-closed ${counters.serverClosed}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: queue ? queue.length : o.connections }, worker));
    const secs = (Date.now() - started) / 1000;
    // Non-reading clients still held open: the probe lets the node settle, then looks once more.
    const finished = await probe.finish();
    // Stalls reported just before are counted after a short delay (see the probe's handler).
    await new Promise((r) => setTimeout(r, 400));
    if (stop === undefined && finished.last !== null) {
      if (target.countsStall?.(Date.now()) ?? true) summary.stalls++;
      else summary.memberStalls++;
      log(`stall after the last iteration: ${finished.last}`);
    }
    if (stop !== undefined) log(`stopped: ${stop}`);
    log(
      `done in ${secs.toFixed(1)} s: ${Math.round(summary.iterations / secs)} iterations/s, ${finished.checks} probe checks, ${counters.serverClosed} sessions closed by the node, ${(counters.replyBytes / 2 ** 20).toFixed(1)} MiB of replies`,
    );
    writeFileSync(join(dir, 'summary.json'), `${JSON.stringify({ ...o, ...summary, seconds: secs, probeChecks: finished.checks, ...counters }, null, 1)}\n`);
    return summary;
  } finally {
    stopping = true;
    probe?.kill();
    clearInterval(rssTimer);
    await harness.stop();
    activeHarness = undefined;
  }
}
