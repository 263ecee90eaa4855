/**
 * `raftkv start` with a setting the operator must fix exits 2 within seconds, with one line on
 * stderr naming the setting and no stack trace: the real CLI (`tsx src/cli/main.ts start`) for
 * each case of issue 10 point 8 (a bind address that is no address, a data directory that
 * cannot be created or is held by another node, a busy or foreign listen address, a peer host
 * that is no host). Pure parsing is covered in test/node/config.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterHarness, freePort } from '../support/cluster-harness.ts';
import { raftkvArgs } from '../support/raftkv-build.ts';

const root = mkdtempSync(join(tmpdir(), 'raftkv-start-'));
/** Long enough for tsx to start on a loaded machine; the hang this replaces never ended. */
const WITHIN_MS = 10_000;

afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stderr: string;
  ms: number;
}

async function start(args: string[]): Promise<Run> {
  const port = String(await freePort());
  const httpPort = String(await freePort());
  const defaults = ['--port', port, '--http-port', httpPort, '--data-dir', join(root, `d${port}`), '--log-level', 'error'];
  const t0 = Date.now();
  const child = spawn(process.execPath, [...raftkvArgs(), 'start', ...defaults, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), WITHIN_MS * 2);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, stderr, ms: Date.now() - t0 };
}

function expectBadSetting(r: Run, setting: string, detail: string | RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.ms).toBeLessThan(WITHIN_MS);
  expect(r.stderr).toContain(`raftkv: invalid setting '${setting}': `);
  expect(r.stderr).toMatch(detail);
  expect(r.stderr.trim().split('\n'), 'one line, no stack trace').toHaveLength(1);
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

describe('raftkv start with a bad setting', () => {
  it('--http-host 256.1.1.1 (was a stack trace)', async () => {
    expectBadSetting(await start(['--http-host', '256.1.1.1']), 'http-host', "'256.1.1.1' is not a valid IPv4 address");
  });

  it('--host 256.1.1.1', async () => {
    expectBadSetting(await start(['--host', '256.1.1.1']), 'host', "'256.1.1.1' is not a valid IPv4 address");
  });

  it('an address that is not on this machine (192.0.2.1 is reserved for documentation)', async () => {
    // With a peer secret, so the off-loopback secret rule (its own test) does not answer first.
    const args = ['--http-host', '192.0.2.1', '--cluster-secret', 'start-errors-test-secret'];
    expectBadSetting(await start(args), 'http-host', '192.0.2.1 is not an address of this machine');
  });

  it('a peer host that is no hostname', async () => {
    expectBadSetting(await start(['--peers', 'n1=a b:1:2']), 'peers', "the host 'a b' must be an IP address or a hostname");
  });

  it('--data-dir /proc/nope (was a hang)', async () => {
    expectBadSetting(await start(['--data-dir', '/proc/nope']), 'data-dir', /cannot create or write \/proc\/nope: ENOENT/);
  });

  it('a data directory that is a file', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    expectBadSetting(await start(['--data-dir', join(file, 'n1')]), 'data-dir', `cannot create or write ${join(file, 'n1')}: ENOTDIR`);
  });

  it('a busy HTTP port (was a raw EADDRINUSE) and a busy RESP port, naming the address', async () => {
    const port = await freePort();
    const srv = await listen(port);
    try {
      expectBadSetting(await start(['--http-port', String(port)]), 'http-port', `127.0.0.1:${port} is already in use`);
      expectBadSetting(await start(['--port', String(port)]), 'port', `127.0.0.1:${port} is already in use`);
    } finally {
      srv.close();
    }
  });

  it('a data directory another node holds', async () => {
    const c = new ClusterHarness({ nodes: 1 });
    try {
      await c.start();
      const held = c.nodes[0].dataDir;
      expectBadSetting(await start(['--data-dir', held]), 'data-dir', `Raft log in ${held} is locked by another process`);
      expect(c.running()).toHaveLength(1);
    } finally {
      await c.stop();
    }
  });

  it('a corrupt data directory is a clear error naming it (exit 1: the data, not a setting, is bad)', async () => {
    const dir = join(root, 'corrupt');
    // LevelDB names its manifest in CURRENT; a CURRENT naming nothing cannot be opened.
    mkdirSync(dir);
    writeFileSync(join(dir, 'CURRENT'), 'MANIFEST-999999\n');
    const r = await start(['--data-dir', dir]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.ms).toBeLessThan(WITHIN_MS);
    expect(r.stderr).toContain(`raftkv: cannot open data directory ${dir}: `);
    expect(r.stderr.trim().split('\n'), 'one line, no stack trace').toHaveLength(1);
  });
});
