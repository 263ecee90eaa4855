/**
 * `raftkv cluster --nodes N`: N local nodes as child processes on consecutive ports, each with
 * its own data directory. Ctrl-C stops them gracefully (the leader hands over first).
 *
 * The nodes share a cluster secret generated on the first start and kept in the data folder
 * (`<data-dir>/cluster-secret`, mode 0600), passed by file rather than argv, which ps shows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NODE_FLAGS, nodeEnv } from './runtime.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

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

export async function runCluster(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '3' },
      'base-port': { type: 'string', default: '6379' },
      'data-dir': { type: 'string', default: './data' },
      'log-level': { type: 'string', default: 'info' },
    },
    allowPositionals: true,
  });
  const n = Number(values.nodes);
  const base = Number(values['base-port']);
  if (!Number.isInteger(n) || n < 1 || n > 9) fail(`--nodes must be 1-9, got '${values.nodes}'`);
  if (!Number.isInteger(base) || base < 1 || base + n - 1 + 10000 > 65535) fail(`--base-port '${values['base-port']}' is out of range`);
  const root = resolve(values['data-dir']);
  const specs = localClusterSpecs(n, base, root);
  let secretFile: string;
  try {
    secretFile = ensureClusterSecret(root);
  } catch (err) {
    fail(`cannot keep the cluster secret under ${root}: ${(err as Error).message}`);
  }
  const peers = specs.map((s) => `${s.id}=127.0.0.1:${s.port}:${s.httpPort}`).join(',');
  const token = randomBytes(8).toString('hex');
  const pretty = process.stdout.isTTY ? '1' : '0';

  const children: ChildProcess[] = [];
  for (const s of specs) {
    mkdirSync(s.dataDir, { recursive: true });
    const child = spawn(
      process.execPath,
      [...NODE_FLAGS, '--import', 'tsx', MAIN, 'start', '--id', s.id, '--port', String(s.port), '--http-port', String(s.httpPort),
        '--data-dir', s.dataDir, '--peers', peers, '--cluster-secret-file', secretFile, '--log-level', values['log-level'],
        // Used only by nodes that bootstrap now: each new local cluster gets a random id (cluster-id.ts).
        '--cluster-token', token,
        ...positionals],
      { stdio: 'inherit', env: { ...nodeEnv(process.env), RAFTKV_LOG_PRETTY: pretty } },
    );
    children.push(child);
  }

  process.stdout.write(
    [
      '',
      `RaftKV local cluster: ${n} node${n > 1 ? 's' : ''}, data under ${root} (peer secret in ${secretFile})`,
      ...specs.map((s) => `  ${s.id}  RESP 127.0.0.1:${s.port}   HTTP http://127.0.0.1:${s.httpPort}   data ${s.dataDir}`),
      '',
      `  redis-cli -c -p ${specs[Math.min(1, n - 1)].port} set hello world`,
      `  curl -s http://127.0.0.1:${specs[0].httpPort}/v1/cluster`,
      `  curl -s http://127.0.0.1:${specs[0].httpPort}/metrics`,
      '',
      'Ctrl-C stops the cluster.',
      '',
    ].join('\n'),
  );

  let exited = 0;
  let stopping = false;
  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    // One at a time, so each leader hands over to a node that is still up.
    const next = (i: number) => {
      if (i >= children.length) return;
      const c = children[i];
      if (c.exitCode !== null) return next(i + 1);
      c.once('exit', () => next(i + 1));
      c.kill(signal);
    };
    next(0);
  };
  for (const c of children) {
    c.on('exit', (code) => {
      exited++;
      if (!stopping && code !== 0) process.stderr.write(`a node exited with code ${code}\n`);
      if (exited === children.length) process.exit(0);
    });
  }
  process.on('SIGINT', () => stopAll('SIGTERM'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
}

function fail(msg: string): never {
  process.stderr.write(`raftkv cluster: ${msg}\n`);
  process.exit(2);
}
