/**
 * Peer links with mutual TLS refuse a node whose certificate comes from a CA the cluster does
 * not trust. n3 presents a peer certificate from an unrelated CA (its HTTPS certificate is
 * good, so it can still be reached and reach others): n1 and n2 answer its links with 401 at
 * the upgrade, so the leader never hears from n3 and does not count it. With the other good
 * node stopped, the leader alone plus n3 is no quorum: a write cannot commit.
 *
 * Every node also keeps plain RESP: a plain client is sent to plain ports and a TLS client to
 * TLS ports (MOVED, CLUSTER SLOTS/NODES), as Redis Cluster does with tls-cluster.
 *
 * The same cluster shows RESP's tls-auth-clients optional (n1) and no (n2) letting a client
 * without a certificate in, and optional still refusing one from the wrong CA; and n2's
 * --http-client-cert-auth refusing API clients without a certificate while its peers link.
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, type TestCerts } from '../support/certs.ts';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { runProgram as run } from '../support/programs.ts';

let certs: TestCerts;
let cluster: ClusterHarness;

beforeAll(async () => {
  certs = makeCerts(['n1', 'n2', 'n3']);
  const n3 = certs.node('n3');
  cluster = new ClusterHarness({
    nodes: 3,
    tls: certs,
    plainToo: true,
    nodeArgs: {
      n1: ['--tls-auth-clients', 'optional'],
      n2: ['--tls-auth-clients', 'no', '--http-client-cert-auth', '--http-trusted-ca-file', certs.ca],
      n3: ['--peer-cert-file', certs.other.cert, '--peer-key-file', certs.other.key, '--http-cert-file', n3.cert, '--http-key-file', n3.key],
    },
  });
  await cluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  certs?.remove();
});

/** redis-cli over TLS to `h`, trusting the test CA; what it printed, errors included, whatever its exit. */
async function redisCli(h: NodeHandle, args: string[]): Promise<string> {
  const r = await run('redis-cli', ['-p', String(h.tlsPort), '--tls', '--cacert', certs.ca, ...args]);
  return r.out + r.err;
}

describe('a node with plain and TLS ports', () => {
  it('names plain ports to plain clients and TLS ports to TLS clients (MOVED, CLUSTER SLOTS/NODES)', async () => {
    const [n1, n2] = cluster.nodes;
    const leader = await cluster.waitLeader(15_000, [n1, n2]);
    const follower = leader === n1 ? n2 : n1;
    const plain = (args: string[]) => run('redis-cli', ['-p', String(follower.port), ...args]).then((r) => r.out);
    const tls = (args: string[]) => redisCli(follower, ['--cert', certs.client.cert, '--key', certs.client.key, ...args]);
    expect(await plain(['get', 'k'])).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${leader.port}\\n`));
    expect(await tls(['get', 'k'])).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${leader.tlsPort}\\n`));
    expect((await plain(['cluster', 'slots'])).split('\n')).toContain(String(leader.port));
    expect((await tls(['cluster', 'slots'])).split('\n')).toContain(String(leader.tlsPort));
    expect(await plain(['cluster', 'nodes'])).toContain(`127.0.0.1:${leader.port}@${leader.httpPort}`);
    expect(await tls(['cluster', 'nodes'])).toContain(`127.0.0.1:${leader.tlsPort}@${leader.httpPort}`);
    // SHARDS names both, as Redis 7 does.
    const shards = await plain(['cluster', 'shards']);
    expect(shards).toContain(`tls-port\n${leader.tlsPort}`);
    expect(shards).toContain(`port\n${leader.port}`);
  });
});

describe('HTTPS client certificates (--http-client-cert-auth)', () => {
  it('an API client without a certificate gets 401; with one from the trusted CA, 200', async () => {
    const n2 = cluster.nodes[1];
    const url = cluster.url(n2, '/v1/cluster');
    const without = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', certs.ca, url]);
    expect(without.out).toBe('401');
    const wrongCa = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      certs.ca,
      '--cert',
      certs.other.cert,
      '--key',
      certs.other.key,
      url,
    ]);
    expect(wrongCa.out).toBe('401');
    const withCert = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      certs.ca,
      '--cert',
      certs.client.cert,
      '--key',
      certs.client.key,
      url,
    ]);
    expect(withCert.out).toBe('200');
    // n1 does not ask API clients for a certificate.
    expect((await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', certs.ca, cluster.url(cluster.nodes[0], '/v1/cluster')])).out).toBe(
      '200',
    );
  });
});

// Last: the peer test stops a node.
describe('RESP tls-auth-clients on real nodes', () => {
  it('optional and no let a client without a certificate in; optional refuses one from another CA', async () => {
    const [n1, n2] = cluster.nodes;
    expect(await redisCli(n1, ['ping'])).toBe('PONG\n');
    expect(await redisCli(n2, ['ping'])).toBe('PONG\n');
    expect(await redisCli(n1, ['--cert', certs.other.cert, '--key', certs.other.key, 'ping'])).not.toContain('PONG');
    expect(await redisCli(n1, ['--cert', certs.client.cert, '--key', certs.client.key, 'ping'])).toBe('PONG\n');
  });
});

describe('peer mutual TLS', () => {
  it('a peer certificate from another CA cannot link, and the leader does not count that node', async () => {
    const [n1, n2, n3] = cluster.nodes;
    const leader = await cluster.waitLeader(15_000, [n1, n2]);
    const other = leader === n1 ? n2 : n1;
    expect((await cluster.put(leader, 'a', '1')).status).toBe(200);
    await waitFor(
      () => readFileSync(leader.logFile, 'utf8').includes('peer link refused: no client certificate from peer-trusted-ca-file'),
      10_000,
      'the leader to refuse n3',
    );
    const progress = ((await (await cluster.fetch(cluster.url(leader, '/v1/cluster'))).json()) as { progress: Record<string, { match: number }> }).progress;
    expect(progress[n3.id].match).toBe(0);
    expect(progress[other.id].match).toBeGreaterThan(0);

    // Without the other good node, n3 cannot make a quorum with the leader.
    await cluster.kill9(other);
    // Refused (a leader that lost its quorum steps down) or timed out: never committed.
    const status = await cluster.put(leader, 'b', '2').then(
      (r) => r.status,
      () => 'timed out',
    );
    expect(status).not.toBe(200);
    expect(n3.exitCode).toBeUndefined();
  }, 30_000);
});
