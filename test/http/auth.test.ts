/**
 * HTTP authentication on real node processes over real sockets: a 3-node cluster started with
 * --requirepass (peers still link, elect and replicate: the peer route is not behind the hook),
 * and one node with a separate --http-token and --metrics-public. Clients are fetch and the
 * real curl. CONFIG SET requirepass, sent over RESP, changes what HTTP accepts at once.
 */
import { execFile } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WWW_AUTHENTICATE } from '../../src/http/auth.ts';
import { ClusterHarness, type NodeHandle } from '../support/cluster-harness.ts';

const PASSWORD = 'c0rrect horse';
const TOKEN = 'metrics-and-admin-token';

const cluster = new ClusterHarness({ nodes: 3, extraArgs: ['--requirepass', PASSWORD], httpToken: PASSWORD });
const tokenNode = new ClusterHarness({
  nodes: 1,
  extraArgs: ['--requirepass', PASSWORD, '--http-token', TOKEN, '--metrics-public'],
  httpToken: TOKEN,
});
let leader: NodeHandle;
let follower: NodeHandle;
let single: NodeHandle;

beforeAll(async () => {
  // One after the other, so that no more than three node processes start at once.
  await cluster.start();
  await tokenNode.start();
  leader = await cluster.waitLeader();
  follower = cluster.nodes.find((h) => h !== leader)!;
  single = await tokenNode.waitLeader();
}, 90_000);

afterAll(async () => {
  await Promise.all([cluster.stop(), tokenNode.stop()]);
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

async function call(
  c: ClusterHarness,
  h: NodeHandle,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> | string }> {
  const r = await fetch(c.url(h, path), {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  const text = await r.text();
  let body: Record<string, unknown> | string = text;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON (metrics): the text itself.
  }
  return { status: r.status, headers: r.headers, body };
}

/** Runs the real curl; resolves with its stdout. */
function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '--max-time', '5', ...args], (err, out, errOut) =>
      err ? reject(new Error(`curl ${args.join(' ')}: ${err.message} ${errOut}`)) : resolve(out),
    ),
  );
}

function expectUnauthorized(r: Awaited<ReturnType<typeof call>>): void {
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe(WWW_AUTHENTICATE);
  expect(r.body).toMatchObject({ error: 'unauthorized' });
  expect(typeof (r.body as { message?: unknown }).message).toBe('string');
}

describe('with --requirepass', () => {
  it('answers 401 with a challenge to every route but the probes, without or with a wrong credential', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/kv/a'],
      ['PUT', '/v1/kv/a', { value: 'x' }],
      ['DELETE', '/v1/kv/a'],
      ['GET', '/v1/cluster'],
      ['POST', '/v1/cluster/members', { id: 'x', host: 'h', port: 1, http_port: 2 }],
      ['DELETE', `/v1/cluster/members/${follower.id}`],
      ['POST', '/v1/cluster/transfer-leadership', {}],
      ['GET', '/metrics'],
      ['GET', '/openapi.json'],
      ['GET', '/no/such/route'],
    ];
    const wrong = [{}, bearer('wrong'), bearer(`${PASSWORD}x`), bearer(''), basic('default', 'wrong'), basic('admin', PASSWORD), { authorization: PASSWORD }];
    for (const [method, path, body] of routes) {
      for (const headers of wrong) {
        const r = await call(cluster, leader, path, { method, headers, body });
        expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expectUnauthorized(r);
      }
    }
    // Nothing got through: the key was not written and the members are all there.
    expect((await call(cluster, leader, '/v1/kv/a', { headers: bearer(PASSWORD) })).status).toBe(404);
    const status = await cluster.status(leader);
    expect(status?.voters).toHaveLength(3);
    expect(status?.leader).toBe(leader.id);
  });

  it('keeps /healthz and /readyz open', async () => {
    for (const h of cluster.nodes) {
      expect((await call(cluster, h, '/healthz')).status).toBe(200);
      expect(await call(cluster, h, '/readyz')).toMatchObject({ status: 200, body: { ready: true } });
    }
  });

  it('serves a Bearer token and Basic default:<password>, and keys replicate (peer links need no HTTP auth)', async () => {
    const put = await call(cluster, leader, '/v1/kv/colour', { method: 'PUT', headers: bearer(PASSWORD), body: { value: 'blue' } });
    expect(put.status).toBe(200);
    for (const h of cluster.nodes) {
      const get = await call(cluster, h, '/v1/kv/colour', { headers: basic('default', PASSWORD) });
      expect(get, h.id).toMatchObject({ status: 200, body: { value: 'blue' } });
    }
    expect((await call(cluster, leader, '/metrics', { headers: bearer(PASSWORD) })).body).toMatch(/^# HELP /m);
    expect((await call(cluster, leader, '/openapi.json', { headers: bearer(PASSWORD) })).body).toMatchObject({ openapi: expect.any(String) });
  });

  it('works with the real curl -u default:<password> and -H Authorization: Bearer', async () => {
    const url = cluster.url(leader, '/v1/kv/curl');
    const code = (args: string[]) => curl(['-o', '/dev/null', '-w', '%{http_code}', ...args]);
    expect(await code([url])).toBe('401');
    expect(await code(['-u', 'default:nope', url])).toBe('401');
    expect(await code(['-u', `default:${PASSWORD}`, '-X', 'PUT', '-H', 'content-type: application/json', '--data', '{"value":"v"}', url])).toBe('200');
    expect(JSON.parse(await curl(['-u', `default:${PASSWORD}`, url]))).toMatchObject({ key: 'curl', value: 'v' });
    expect(JSON.parse(await curl(['-H', `Authorization: Bearer ${PASSWORD}`, url]))).toMatchObject({ value: 'v' });
    // Open routes are matched as routed, not by prefix: a path through /healthz is not open.
    const base = cluster.url(leader, '');
    expect(await code(['--path-as-is', `${base}/healthz/../v1/cluster`])).toBe('401');
    expect(await code([`${base}/healthz/`])).toBe('401');
    expect(await code([`${base}/readyz?x=1`])).toBe('200');
    // The challenge curl sees names both schemes.
    expect(await curl(['-D', '-', '-o', '/dev/null', url])).toMatch(/^www-authenticate: Bearer realm="raftkv", Basic realm="raftkv"\r$/im);
  });

  it('redirects an authenticated write on a follower to the leader (307), which takes the same credential', async () => {
    const unauth = await call(cluster, follower, '/v1/kv/moved', { method: 'PUT', body: { value: 'v' } });
    expectUnauthorized(unauth);
    const r = await call(cluster, follower, '/v1/kv/moved', { method: 'PUT', headers: bearer(PASSWORD), body: { value: 'v' } });
    expect(r.status).toBe(307);
    const location = r.headers.get('location')!;
    expect(location).toBe(cluster.url(leader, '/v1/kv/moved'));
    const there = await fetch(location, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearer(PASSWORD) },
      body: JSON.stringify({ value: 'v' }),
      signal: AbortSignal.timeout(5000),
    });
    expect(there.status).toBe(200);
    expect((await cluster.get(follower, 'moved')).value).toBe('v');
  });

  it('follows CONFIG SET requirepass at once: the old password stops working, the new one works', async () => {
    const r = new Redis({ port: leader.port, host: '127.0.0.1', password: PASSWORD, maxRetriesPerRequest: 1, lazyConnect: true });
    await r.connect();
    try {
      expect(await r.config('SET', 'requirepass', 'n3w')).toBe('OK');
      expectUnauthorized(await call(cluster, leader, '/v1/cluster', { headers: bearer(PASSWORD) }));
      expect((await call(cluster, leader, '/v1/cluster', { headers: bearer('n3w') })).status).toBe(200);
      expect((await call(cluster, leader, '/v1/cluster', { headers: basic('default', 'n3w') })).status).toBe(200);
      expect(await r.config('SET', 'requirepass', PASSWORD)).toBe('OK');
      expectUnauthorized(await call(cluster, leader, '/v1/cluster', { headers: bearer('n3w') }));
      expect((await call(cluster, leader, '/v1/cluster', { headers: bearer(PASSWORD) })).status).toBe(200);
    } finally {
      r.disconnect();
    }
  });
});

describe('with --http-token and --metrics-public', () => {
  it('takes the token, not the password, on HTTP; RESP still takes the password', async () => {
    expect((await call(tokenNode, single, '/v1/cluster', { headers: bearer(TOKEN) })).status).toBe(200);
    expect((await call(tokenNode, single, '/v1/cluster', { headers: basic('default', TOKEN) })).status).toBe(200);
    expectUnauthorized(await call(tokenNode, single, '/v1/cluster', { headers: bearer(PASSWORD) }));
    expectUnauthorized(await call(tokenNode, single, '/v1/cluster', { headers: basic('default', PASSWORD) }));
    const r = new Redis({ port: single.port, host: '127.0.0.1', password: PASSWORD, maxRetriesPerRequest: 1, lazyConnect: true });
    await r.connect();
    try {
      expect(await r.ping()).toBe('PONG');
    } finally {
      r.disconnect();
    }
  });

  it('serves /metrics to anyone, and nothing else', async () => {
    const m = await call(tokenNode, single, '/metrics');
    expect(m.status).toBe(200);
    expect(m.body).toMatch(/^# HELP /m);
    expectUnauthorized(await call(tokenNode, single, '/v1/kv/a'));
    expectUnauthorized(await call(tokenNode, single, '/openapi.json'));
  });
});
