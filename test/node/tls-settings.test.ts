/**
 * Bad TLS settings stop `raftkv start` with exit 2 and a message naming the setting, before
 * anything listens or the data directory is touched: a missing file, a key that does not match
 * its certificate, a file that cannot be read (a directory: root reads any file), a file that
 * is not PEM, and combinations that cannot work. Real processes, certificates from openssl.
 * Parsing `--peers` with TLS ports and `port 0` is covered here too (no process needed).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/cli/runtime.ts';
import { ConfigError, parsePeers, resolveConfig } from '../../src/node/config.ts';
import { makeCerts, type TestCerts } from '../support/certs.ts';
import { freePort } from '../support/cluster-harness.ts';
import { raftkvArgs } from '../support/raftkv-build.ts';

let certs: TestCerts;
let root: string;

beforeAll(() => {
  certs = makeCerts(['n1', 'n2']);
  root = mkdtempSync(join(tmpdir(), 'raftkv-tls-settings-'));
  writeFileSync(join(root, 'garbage.crt'), 'not a certificate\n');
});
afterAll(() => {
  certs.remove();
  rmSync(root, { recursive: true, force: true });
});

/** Starts a node with `args`; resolves with its exit code, stderr, and whether its data dir exists. */
async function start(args: string[]): Promise<{ code: number | null; stderr: string; touchedData: boolean }> {
  const dataDir = join(root, `data-${Math.random().toString(36).slice(2)}`);
  const port = await freePort();
  const p = spawn(process.execPath, [...NODE_FLAGS, ...raftkvArgs(), 'start', '--port', String(port), '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  p.stderr.on('data', (d) => {
    stderr += String(d);
  });
  p.stdout.resume();
  const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((resolve) => p.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr, touchedData: existsSync(dataDir) };
}

describe('bad TLS settings exit 2 naming the setting, before anything listens', () => {
  const resp = () => ['--tls-port', '0'];
  const cases: [string, () => string[], string][] = [
    [
      'a missing certificate file',
      () => ['--tls-port', '16999', '--tls-cert-file', join(root, 'nope.crt'), '--tls-key-file', certs.node('n1').key, '--tls-ca-cert-file', certs.ca],
      'tls-cert-file',
    ],
    [
      'a key that does not match the certificate',
      () => ['--tls-port', '16999', '--tls-cert-file', certs.node('n1').cert, '--tls-key-file', certs.node('n2').key, '--tls-ca-cert-file', certs.ca],
      'tls-key-file',
    ],
    [
      'an unreadable CA file',
      () => ['--peer-cert-file', certs.node('n1').cert, '--peer-key-file', certs.node('n1').key, '--peer-trusted-ca-file', root],
      'peer-trusted-ca-file',
    ],
    [
      'a file that is not PEM',
      () => ['--peer-cert-file', join(root, 'garbage.crt'), '--peer-key-file', certs.node('n1').key, '--peer-trusted-ca-file', certs.ca],
      'peer-cert-file',
    ],
    [
      'client auth without a CA',
      () => ['--tls-port', '16999', '--tls-cert-file', certs.node('n1').cert, '--tls-key-file', certs.node('n1').key],
      'tls-ca-cert-file',
    ],
    ['TLS files without a TLS port', () => [...resp(), '--tls-cert-file', certs.node('n1').cert], 'tls-port'],
    ['an HTTPS certificate without peer TLS', () => ['--http-cert-file', certs.node('n1').cert, '--http-key-file', certs.node('n1').key], 'peer-cert-file'],
    ['peer TLS without a trusted CA', () => ['--peer-cert-file', certs.node('n1').cert, '--peer-key-file', certs.node('n1').key], 'peer-trusted-ca-file'],
    [
      'client-cert auth on HTTP without a CA',
      () => ['--peer-cert-file', certs.node('n1').cert, '--peer-key-file', certs.node('n1').key, '--peer-trusted-ca-file', certs.ca, '--http-client-cert-auth'],
      'http-trusted-ca-file',
    ],
    ['no plain port and no TLS port', () => ['--port', '0'], 'port'],
  ];
  for (const [what, args, setting] of cases) {
    it(what, async () => {
      const r = await start(args());
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`invalid setting '${setting}'`);
      expect(r.touchedData).toBe(false);
    }, 20_000);
  }
});

describe('TLS ports in settings', () => {
  it('--peers carries an optional TLS port; the RESP port may be 0 only with one', () => {
    expect(parsePeers('n1=10.0.0.1:6379:16379:6380')).toEqual([{ id: 'n1', host: '10.0.0.1', port: 6379, httpPort: 16379, tlsPort: 6380 }]);
    expect(parsePeers('n1=10.0.0.1:0:16380:6380')[0]).toMatchObject({ port: 0, tlsPort: 6380 });
    expect(parsePeers('n1=10.0.0.1:6379')).toEqual([{ id: 'n1', host: '10.0.0.1', port: 6379, httpPort: 16379 }]);
    expect(() => parsePeers('n1=10.0.0.1:0:16379')).toThrow(ConfigError);
    expect(() => parsePeers('n1=10.0.0.1:6379:16379:70000')).toThrow(/outside/);
  });

  it('port 0 with a TLS port: no plain RESP, and the HTTP port defaults to the TLS port + 10000', () => {
    const cfg = resolveConfig({ port: '0', 'tls-port': '6390' }, {});
    expect(cfg).toMatchObject({ port: 0, tlsPort: 6390, httpPort: 16390, advertiseTlsPort: 6390 });
    expect(resolveConfig({}, {})).toMatchObject({ port: 6379, tlsPort: 0, httpPort: 16379 });
  });
});
