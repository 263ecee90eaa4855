/**
 * `raftkv cluster --nodes N`: N local nodes as child processes on consecutive ports, each with
 * its own data directory. Ctrl-C stops them gracefully (the leader hands over first).
 *
 * The nodes share a cluster secret generated on the first start and kept in the data folder
 * (`<data-dir>/cluster-secret`, mode 0600), passed by file rather than argv, which ps shows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, parsePeers, resolveConfig, SETTINGS } from '../node/config.ts';
import { parseCommandArgs } from './args.ts';
import { nodeEnv, selfCommand } from './runtime.ts';
import { checkBackup, dataDirProblem, restoredClusterId, writeDataDir } from './snapshot-restore.ts';

export interface LocalNodeSpec {
  id: string;
  port: number;
  httpPort: number;
  dataDir: string;
}

export function localClusterSpecs(nodes: number, basePort: number, dataRoot: string): LocalNodeSpec[] {
  return Array.from({ length: nodes }, (_, i) => ({
    id: `n${i + 1}`,
    port: basePort + i,
    httpPort: basePort + i + 10000,
    dataDir: join(dataRoot, `n${i + 1}`),
  }));
}

/**
 * The local cluster's secret file under `dataRoot`: created with a random secret if absent
 * (exclusively, so two clusters started at once on one folder agree), reused otherwise.
 */
export function ensureClusterSecret(dataRoot: string): string {
  const file = join(dataRoot, 'cluster-secret');
  mkdirSync(dataRoot, { recursive: true });
  try {
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (readFileSync(file, 'utf8').trim() === '') fail(`${file} is empty: delete it to have a new secret made`);
  return file;
}

/** Settings each node gets its own value of; every other `raftkv start` setting is passed to all. */
const PER_NODE = new Set<string>([
  'id',
  'port',
  'http-port',
  'data-dir',
  'peers',
  'cluster-secret-file',
  'log-level',
  'join',
  'config',
  'advertise-port',
  'advertise-http-port',
  'advertise-tls-port',
  'tls-port',
]);

const OWN_OPTIONS = {
  nodes: { type: 'string', default: '3' },
  'base-port': { type: 'string', default: '6379' },
  'data-dir': { type: 'string', default: './data' },
  'log-level': { type: 'string', default: 'info' },
  restore: { type: 'string' },
} as const;

const USAGE = `usage: raftkv cluster [--nodes 3] [--base-port 6379] [--data-dir ./data] [--log-level info] [--restore FILE] [node settings]
  --nodes N          how many local nodes, 1-9 (default 3)
  --base-port P      RESP ports P, P+1, ...; HTTP ports P+10000, ... (default 6379)
  --data-dir DIR     one folder per node under DIR, and the cluster secret (default ./data)
  --log-level LEVEL  trace, debug, info, warn, error, fatal, silent (default info)
  --restore FILE     make every node's folder from a backup first; refused if any holds data
Any other 'raftkv start' setting is passed to every node, e.g. --maxmemory 100mb or
--election-timeout 1s ('raftkv start --help' lists them). With npm: npm start -- --base-port 7000`;

/** How a child ended, for one line naming it: "exited with code 1", "was killed by SIGKILL". */
export function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export async function runCluster(argv: string[]): Promise<void> {
  const forwardable = Object.entries(SETTINGS).filter(([name]) => !PER_NODE.has(name));
  const options: Record<string, { type: 'string' | 'boolean'; default?: string }> = { ...OWN_OPTIONS };
  for (const [name, spec] of forwardable) options[name] = { type: spec.kind === 'bool' ? 'boolean' : 'string' };
  const { values } = parseCommandArgs('cluster', argv, options, USAGE);
  const str = (k: keyof typeof OWN_OPTIONS) => values[k] as string;
  const n = Number(str('nodes'));
  const base = Number(str('base-port'));
  if (!Number.isInteger(n) || n < 1 || n > 9) fail(`--nodes must be 1-9, got '${str('nodes')}'`);
  if (!Number.isInteger(base) || base < 1 || base + n - 1 + 10000 > 65535) fail(`--base-port '${str('base-port')}' is out of range`);
  const passed: string[] = [];
  for (const [name] of forwardable) {
    const v = values[name];
    if (v === true) passed.push(`--${name}`);
    else if (v === false) passed.push(`--${name}=false`);
    else if (typeof v === 'string') passed.push(`--${name}`, v);
  }
  // Checked once here rather than failing in every child.
  const given = Object.fromEntries(forwardable.filter(([name]) => values[name] !== undefined).map(([name]) => [name, values[name]]));
  try {
    resolveConfig(given);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const root = resolve(str('data-dir'));
  const specs = localClusterSpecs(n, base, root);
  let secretFile: string;
  try {
    secretFile = ensureClusterSecret(root);
  } catch (err) {
    fail(`cannot keep the cluster secret under ${root}: ${(err as Error).message}`);
  }
  const peers = specs.map((s) => `${s.id}=127.0.0.1:${s.port}:${s.httpPort}`).join(',');
  const token = randomBytes(8).toString('hex');
  if (values.restore !== undefined) await restoreLocal(values.restore as string, specs, peers);
  const pretty = process.stdout.isTTY ? '1' : '0';

  const nodes: LocalNode[] = [];
  for (const s of specs) {
    mkdirSync(s.dataDir, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        ...selfCommand(),
        'start',
        '--id',
        s.id,
        '--port',
        String(s.port),
        '--http-port',
        String(s.httpPort),
        '--data-dir',
        s.dataDir,
        '--peers',
        peers,
        '--cluster-secret-file',
        secretFile,
        '--log-level',
        str('log-level'),
        // Used only by nodes that bootstrap now: each new local cluster gets a random id (cluster-id.ts).
        '--cluster-token',
        token,
        ...passed,
      ],
      { stdio: 'inherit', env: { ...nodeEnv(process.env), RAFTKV_LOG_PRETTY: pretty } },
    );
    nodes.push({ spec: s, child, exited: false });
  }

  let stopping = false;
  let failed = false;
  const proxyOn =
    (passed.includes('--follower-proxy') && passed[passed.indexOf('--follower-proxy') + 1] === 'yes') || process.env.RAFTKV_FOLLOWER_PROXY === 'yes';
  const banner = (ready: boolean) => {
    if (stopping || nodes.every((x) => x.exited)) return;
    const endpoints = base === 6379 ? '' : ` --endpoints http://127.0.0.1:${specs[0].httpPort}`;
    process.stdout.write(
      [
        '',
        `RaftKV local cluster: ${n} node${n > 1 ? 's' : ''}, data under ${root} (peer secret in ${secretFile})`,
        ...specs.map((s) => `  ${s.id}  RESP 127.0.0.1:${s.port}   HTTP http://127.0.0.1:${s.httpPort}   data ${s.dataDir}`),
        ready ? '' : `  (no leader yet: ${Math.round(BANNER_WAIT_MS / 1000)} s after start; the logs above say why)\n`,
        `  redis-cli -c -p ${specs[Math.min(1, n - 1)].port} set hello world`,
        `  plain clients (no -c, no cluster mode) on any node: ${proxyOn ? 'the follower proxy is on' : 'npm start -- --follower-proxy yes (followers forward to the leader)'}`,
        `  npx raftkv status${endpoints}`,
        `  curl -s http://127.0.0.1:${specs[0].httpPort}/v1/cluster`,
        `  curl -s http://127.0.0.1:${specs[0].httpPort}/metrics`,
        '',
        'Ctrl-C stops the cluster.',
        '',
      ].join('\n'),
    );
  };
  // After the start-up logs, once a leader is known, so the addresses are the last thing shown.
  // (With HTTPS the probe would need the operator's CA: then the banner comes at once.)
  const https = Boolean(values['http-cert-file'] || values['peer-cert-file']);
  if (https) banner(true);
  else void clusterReady(specs, () => stopping).then(banner);

  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second Ctrl-C: the operator will not wait for the handover.
      for (const x of nodes) if (!x.exited) x.child.kill('SIGKILL');
      return;
    }
    stopping = true;
    // One at a time, so each leader hands over to a node that is still up. A node that already
    // exited (killed, crashed) is skipped: its 'exit' event has been and gone.
    const next = (i: number) => {
      if (i >= nodes.length) return;
      const x = nodes[i];
      if (x.exited) return next(i + 1);
      x.child.once('exit', () => next(i + 1));
      x.child.kill(signal);
    };
    next(0);
  };
  for (const x of nodes) {
    x.child.on('exit', (code, signal) => {
      x.exited = true;
      if (code !== 0) {
        failed = true;
        process.stderr.write(`raftkv cluster: node ${x.spec.id} (pid ${x.child.pid}) ${exitDescription(code, signal)}\n`);
      }
      if (nodes.every((y) => y.exited)) process.exit(failed ? 1 : 0);
    });
  }
  process.on('SIGINT', () => stopAll('SIGTERM'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
}

interface LocalNode {
  spec: LocalNodeSpec;
  child: ChildProcess;
  /** Set on 'exit': exitCode stays null for a node killed by a signal. */
  exited: boolean;
}

const BANNER_WAIT_MS = 15_000;

/** Resolves true once some node's /readyz names a leader, false after BANNER_WAIT_MS. */
async function clusterReady(specs: LocalNodeSpec[], stopped: () => boolean): Promise<boolean> {
  const deadline = Date.now() + BANNER_WAIT_MS;
  while (Date.now() < deadline && !stopped()) {
    for (const s of specs) {
      try {
        const res = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { leader?: string | null };
        if (body.leader) return true;
      } catch {
        // Not listening yet.
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** `--restore FILE`: every node's data folder from the backup, before any node starts (snapshot-restore.ts). */
async function restoreLocal(file: string, specs: LocalNodeSpec[], peers: string): Promise<void> {
  const written: string[] = [];
  try {
    for (const s of specs) {
      const problem = dataDirProblem(s.dataDir);
      if (problem) throw new Error(problem);
    }
    const layout = await checkBackup(file);
    const peerList = parsePeers(peers);
    const clusterId = restoredClusterId(layout, peerList);
    for (const s of specs) {
      await writeDataDir(file, layout, { dataDir: s.dataDir, peers: peerList, clusterId });
      written.push(s.dataDir);
    }
    const h = layout.header;
    process.stdout.write(`restored ${file} (${h.keyCount} keys at index ${h.index}) into ${specs.length} data folders; new cluster id ${clusterId}\n`);
  } catch (err) {
    // All or none: a retry must not find some folders restored and refuse them.
    for (const dir of written) rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`raftkv cluster: cannot restore ${file}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

function fail(msg: string): never {
  process.stderr.write(`raftkv cluster: ${msg}\n`);
  process.exit(2);
}
