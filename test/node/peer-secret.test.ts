/**
 * When a node may start without a cluster secret, and the settings that carry one: every
 * refusal is a ConfigError naming the setting (raftkv start turns it into exit 2).
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStartArgs } from '../../src/cli/start.ts';
import { isLoopbackHost } from '../../src/node/access.ts';
import { peerSecret } from '../../src/node/peer-secret.ts';

const dir = mkdtempSync(join(tmpdir(), 'raftkv-secret-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const remotePeers = ['--peers', 'n1=127.0.0.1:7001:17001,n2=10.0.0.2:7002:17002'];

describe('cluster secret settings', () => {
  it('loopback needs no secret: the node derives a loopback-only one from the cluster token', () => {
    const cfg = parseStartArgs(['--peers', 'n1=127.0.0.1:7001:17001,n2=localhost:7002:17002,n3=127.0.0.3:7003:17003']);
    expect(cfg.clusterSecret).toBe('');
    const a = peerSecret({ clusterSecret: '', clusterToken: 'raftkv' });
    expect(a.derived).toBe(true);
    expect(a.secret).toHaveLength(64);
    expect(peerSecret({ clusterSecret: '', clusterToken: 'other' }).secret).not.toBe(a.secret);
    expect(peerSecret({ clusterSecret: 's'.repeat(16), clusterToken: 'raftkv' })).toEqual({ secret: 's'.repeat(16), derived: false });
  });

  it.each([
    ['a non-loopback peer', remotePeers, "'cluster-secret': peer links use 10.0.0.2, which is not loopback"],
    ['a non-loopback peer bind address', ['--http-host', '0.0.0.0'], "'cluster-secret': peer links use 0.0.0.0"],
    ['a non-loopback advertised address', ['--advertise-host', 'db1.example'], "'cluster-secret': peer links use db1.example"],
    ['a secret under 16 bytes off loopback', [...remotePeers, '--cluster-secret', 'short'], "'cluster-secret': must be at least 16 bytes"],
    ['an explicitly empty flag', ['--cluster-secret='], "'cluster-secret': is empty"],
    ['an explicitly empty file flag', ['--cluster-secret-file='], "'cluster-secret-file': is empty"],
    ['both a secret and a file', ['--cluster-secret', 'x'.repeat(20), '--cluster-secret-file', '/x'], "'cluster-secret-file': give cluster-secret or"],
    ['a missing file', ['--cluster-secret-file', join(dir, 'nope')], "'cluster-secret-file': cannot read"],
    ['an empty file', ['--cluster-secret-file', file('empty', ' \n')], "'cluster-secret-file':"],
  ])('refuses %s, naming the setting', (_, args, message) => {
    expect(() => parseStartArgs(args)).toThrow(`invalid setting ${message}`);
  });

  it('mutual peer TLS stands in for the secret off loopback (the certificates authenticate the peers)', () => {
    const tls = ['--peer-cert-file', '/c.pem', '--peer-key-file', '/k.pem', '--peer-trusted-ca-file', '/ca.pem'];
    const cfg = parseStartArgs([...remotePeers, ...tls]);
    expect(cfg.clusterSecret).toBe('');
    expect(cfg.peerClientCertAuth).toBe(true);
  });

  it('reads the secret from a file (trimmed), and an empty RAFTKV_CLUSTER_SECRET counts as unset', () => {
    const f = file('ok', '  0123456789abcdef0123\n');
    chmodSync(f, 0o600);
    expect(parseStartArgs([...remotePeers, '--cluster-secret-file', f]).clusterSecret).toBe('0123456789abcdef0123');
    process.env.RAFTKV_CLUSTER_SECRET = '';
    try {
      expect(parseStartArgs([]).clusterSecret).toBe('');
      expect(() => parseStartArgs(remotePeers)).toThrow("invalid setting 'cluster-secret'");
    } finally {
      delete process.env.RAFTKV_CLUSTER_SECRET;
    }
  });

  it('knows loopback names and literals', () => {
    for (const h of ['127.0.0.1', '127.9.9.9', 'localhost', 'n1.localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
      expect([h, isLoopbackHost(h)]).toEqual([h, true]);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'db1', '::ffff:10.0.0.1', '[::2]']) expect([h, isLoopbackHost(h)]).toEqual([h, false]);
  });
});
