/**
 * A 3-node cluster of real processes with every port on TLS (certificates made by openssl at
 * test time): RESP on the TLS port only (`--port 0`), HTTPS for the API, wss:// peer links with
 * mutual TLS. It elects a leader and replicates; Debian's redis-cli --tls, ioredis and
 * node-redis work against it; redis-cli -c follows MOVED from a follower to the leader's TLS
 * port; clients without a certificate are refused (tls-auth-clients yes, the default).
 */
import { Cluster, Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { makeCerts, type TestCerts } from '../support/certs.ts';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { httpsFetch } from '../support/https-fetch.ts';
import { runProgram as run } from '../support/programs.ts';

let certs: TestCerts;
let cluster: ClusterHarness;
let leader: NodeHandle;
let follower: NodeHandle;

beforeAll(async () => {
  certs = makeCerts(['n1', 'n2', 'n3', 'n4']);
  cluster = new ClusterHarness({ nodes: 3, tls: certs });
  await cluster.start();
  leader = await cluster.waitLeader();
  follower = cluster.nodes.find((h) => h !== leader)!;
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  certs?.remove();
});

/** `p`, or a failure naming `who` if it neither resolves nor rejects within 25 s. */
function named<T>(who: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${who} neither answered nor was refused within 25 s`)), 25_000);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

const withCert = () => ['--cert', certs.client.cert, '--key', certs.client.key];
const cli = (h: NodeHandle, args: string[], cert = withCert()) => run('redis-cli', ['-p', String(h.tlsPort), '--tls', '--cacert', certs.ca, ...cert, ...args]);
const clientTls = () => ({ ca: certs.pem(certs.ca), cert: certs.pem(certs.client.cert), key: certs.pem(certs.client.key) });

describe('a 3-node cluster entirely over TLS', () => {
  it('elects a leader over wss:// links and replicates a write to every node', async () => {
    const r = await cluster.put(leader, 'k', 'v');
    expect(r.status).toBe(200);
    const commit = (await cluster.status(leader))!.commit;
    await waitFor(
      async () => {
        const sts = await Promise.all(cluster.nodes.map((h) => cluster.status(h)));
        return sts.every((s) => s !== undefined && s.applied >= commit && s.leader === leader.id);
      },
      10_000,
      'every node to apply the write',
    );
    expect(await cluster.get(leader, 'k')).toMatchObject({ status: 200, value: 'v' });
    // The peer links are wss://: the transport's links are up on the leader.
    const body = (await (await cluster.fetch(cluster.url(leader, '/v1/cluster'))).json()) as { members: { id: string; tls_port?: number }[] };
    expect(body.members.map((m) => m.tls_port).sort()).toEqual(cluster.nodes.map((h) => h.tlsPort).sort());
  });

  it('redis-cli --tls with a client certificate reads and writes; -c follows MOVED to the leader TLS port', async () => {
    expect((await cli(leader, ['set', 'greeting', 'hello'])).out).toBe('OK\n');
    expect((await cli(follower, ['-c', 'set', 'greeting', 'hi'])).out).toBe('OK\n');
    expect((await cli(follower, ['-c', 'get', 'greeting'])).out).toBe('hi\n');
    // Without -c the redirect is shown: it names the leader's TLS port, not a plain one.
    expect((await cli(follower, ['get', 'greeting'])).out.trim()).toBe(`MOVED ${slotOf('greeting')} 127.0.0.1:${leader.tlsPort}`);
  });

  it('CLUSTER SLOTS and NODES name TLS ports to a TLS client', async () => {
    const slots = (await cli(follower, ['cluster', 'slots'])).out.split('\n');
    expect(slots).toContain(String(leader.tlsPort));
    const nodes = (await cli(follower, ['cluster', 'nodes'])).out;
    for (const h of cluster.nodes) expect(nodes).toContain(`127.0.0.1:${h.tlsPort}@${h.httpPort}`);
  });

  it('refuses a client without a certificate (tls-auth-clients yes)', async () => {
    // Each client gets a bound that names it: this test once hung to vitest's 60 s limit under
    // full-suite load without saying which client waited (a hang still fails, never passes).
    const r = await named('redis-cli without a certificate', cli(leader, ['ping'], []));
    expect(r.out).not.toContain('PONG');
    const ioredis = new Redis({
      host: '127.0.0.1',
      port: leader.tlsPort,
      tls: { ca: certs.pem(certs.ca) },
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    ioredis.on('error', () => {});
    await expect(
      named(
        'ioredis without a certificate',
        ioredis.connect().then(() => ioredis.ping()),
      ),
    ).rejects.not.toThrow(/neither answered/);
    ioredis.disconnect();
  });

  it('ioredis with tls: {...} and ioredis Cluster over TLS', async () => {
    const one = new Redis({ host: '127.0.0.1', port: leader.tlsPort, tls: clientTls() });
    try {
      expect(await one.set('io', '1')).toBe('OK');
      expect(await one.incr('io')).toBe(2);
    } finally {
      one.disconnect();
    }
    // The cluster client learns the slots from a follower and writes through the leader's TLS port.
    const c = new Cluster([{ host: '127.0.0.1', port: follower.tlsPort }], { redisOptions: { tls: clientTls() } });
    try {
      expect(await c.set('io-cluster', 'yes')).toBe('OK');
      expect(await c.get('io-cluster')).toBe('yes');
    } finally {
      c.disconnect();
    }
  });

  it('node-redis with socket: { tls: true }', async () => {
    const c = createClient({ socket: { host: '127.0.0.1', port: leader.tlsPort, tls: true, ...clientTls() } });
    c.on('error', () => {});
    await c.connect();
    try {
      expect(await c.set('nr', 'ok')).toBe('OK');
      expect(await c.get('nr')).toBe('ok');
    } finally {
      await c.quit();
    }
  });

  it('HTTPS API: curl --cacert works without a client certificate; plain http to the port fails cleanly', async () => {
    const ok = await run('curl', ['-sS', '--cacert', certs.ca, cluster.url(follower, '/v1/cluster')]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ leader: leader.id });
    const plain = await run('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${follower.httpPort}/v1/cluster`]);
    expect(plain.code).not.toBe(0);
    expect(plain.code).not.toBe(28); // refused at once, not left hanging until the timeout
    // Without the CA curl refuses the self-made certificate: it really is TLS.
    expect((await run('curl', ['-sS', cluster.url(follower, '/healthz')])).code).toBe(60);
    expect(follower.exitCode).toBeUndefined();
    expect((await cluster.fetch(cluster.url(follower, '/healthz'))).ok).toBe(true);
  });

  it('a TLS-only member added over HTTPS with its tls_port joins, and clients are sent to that port', async () => {
    const n4 = await cluster.allocate('n4');
    cluster.nodes.push(n4);
    cluster.spawn(n4, { join: true });
    await cluster.waitHttp(n4);
    const refused = await cluster.fetch(cluster.url(leader, '/v1/cluster/members'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n4', host: '127.0.0.1', port: 0, http_port: n4.httpPort }),
    });
    expect(refused.status).toBe(400);
    const add = await cluster.fetch(cluster.url(leader, '/v1/cluster/members'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n4', host: '127.0.0.1', port: 0, http_port: n4.httpPort, tls_port: n4.tlsPort }),
    });
    expect(add.status).toBe(202);
    await waitFor(async () => (await cluster.status(leader))?.voters.includes('n4') ?? false, 20_000, 'n4 to be promoted to voter');
    expect((await cli(leader, ['cluster', 'nodes'])).out).toContain(`127.0.0.1:${n4.tlsPort}@${n4.httpPort}`);
    // n4 follows the leader over wss:// and sends TLS clients to the leader's TLS port.
    expect((await cli(n4, ['-c', 'set', 'via-n4', 'yes'])).out).toBe('OK\n');
    expect((await cli(leader, ['get', 'via-n4'])).out).toBe('yes\n');
  }, 40_000);

  it('a write to a follower over HTTPS redirects to the leader with an https:// URL', async () => {
    const r = await httpsFetch({ ca: certs.pem(certs.ca) }, cluster.url(follower, '/v1/kv/redirected'), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'x' }),
    });
    expect(r.status).toBe(307);
    expect(r.headers.get('location')).toBe(`https://127.0.0.1:${leader.httpPort}/v1/kv/redirected`);
  });
});

/** Redis Cluster's key slot (CRC16 mod 16384), by the server's own function. */
function slotOf(key: string): number {
  return keyHashSlot(Buffer.from(key));
}
