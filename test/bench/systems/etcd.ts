/**
 * A 3-member etcd (Debian etcd-server) on loopback, separate data dirs, and the Go clientv3
 * load generator built offline from test/bench/etcd-load into the git-ignored .tmp/bench/.
 */

import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from '../load-result.ts';
import { freePort, onCleanup, ProcessExitedError, run, sleep, spawnLogged, tempDir } from '../procs.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(REPO, 'test/bench/etcd-load/main.go');
const BIN = join(REPO, '.tmp/bench/etcd-load');

export interface EtcdCluster {
  endpoints: string[];
  procs: ChildProcess[];
}

/** Whether this machine can run the etcd rows: the etcd server, and go unless the generator is built. */
export function etcdAvailable(): boolean {
  const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
  const built = existsSync(BIN) && statSync(BIN).mtimeMs > statSync(SRC).mtimeMs;
  return onPath('etcd') && (built || onPath('go'));
}

/** Builds the load generator unless the binary is newer than its source. */
export async function buildEtcdLoad(): Promise<string> {
  if (existsSync(BIN) && statSync(BIN).mtimeMs > statSync(SRC).mtimeMs) return BIN;
  await run('go', ['build', '-o', BIN, './test/bench/etcd-load'], {
    cwd: REPO,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' },
  });
  return BIN;
}

export async function startEtcd(): Promise<EtcdCluster> {
  const root = tempDir('raftkv-bench-etcd-');
  const members = await Promise.all(['e1', 'e2', 'e3'].map(async (name) => ({ name, client: await freePort(), peer: await freePort() })));
  const token = `bench-${members[0]!.client}`;
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs = members.map((m) => {
    const logFile = join(root, `${m.name}.log`);
    const p = spawnLogged(
      'etcd',
      [
        '--name',
        m.name,
        '--data-dir',
        join(root, m.name),
        '--listen-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-cluster',
        initial,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        token,
        '--log-level',
        'warn',
        '--logger',
        'zap',
      ],
      logFile,
    );
    p.once('exit', (code) => {
      if (code !== 0 && code !== null) console.error(String(new ProcessExitedError(`etcd ${m.name}`, code, logFile)));
    });
    return p;
  });
  onCleanup(async () => {
    for (const p of procs) p.kill('SIGKILL');
  });
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  for (let i = 0; i < 200; i++) {
    const healthy = await Promise.all(
      endpoints.map(async (e) => {
        try {
          const r = await fetch(`${e}/health`, { signal: AbortSignal.timeout(1000) });
          return r.ok && ((await r.json()) as { health: string }).health === 'true';
        } catch {
          return false;
        }
      }),
    );
    if (healthy.every(Boolean)) return { endpoints, procs };
    await sleep(100);
  }
  throw new Error(`etcd did not become healthy; logs in ${root}`);
}

/** The Go load generator against the leader; the three members' CPU in the window comes back as `nodeCpu`. */
export async function etcdLoad(bin: string, cluster: EtcdCluster, clients: number, seconds: number): Promise<LoadResult> {
  const pids = cluster.procs.map((p) => p.pid!).join(',');
  const out = await run(bin, [
    '-endpoints',
    cluster.endpoints.join(','),
    '-clients',
    String(clients),
    '-seconds',
    String(seconds),
    '-warmup',
    '1',
    '-pids',
    pids,
  ]);
  return JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
}
