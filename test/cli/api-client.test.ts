import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, apiOptions, DEFAULT_ENDPOINT, jsonBody } from '../../src/cli/api-client.ts';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

describe('operator API client', () => {
  it('takes endpoints and the credential from flags, then the environment, then the local default', () => {
    expect(apiOptions({}, {}).endpoints).toEqual([DEFAULT_ENDPOINT]);
    expect(apiOptions({}, { RAFTKV_ENDPOINTS: '' }).endpoints).toEqual([DEFAULT_ENDPOINT]);
    expect(apiOptions({}, { RAFTKV_ENDPOINTS: 'a:1, https://b:2' }).endpoints).toEqual(['http://a:1', 'https://b:2']);
    expect(apiOptions({ endpoints: 'c:3' }, { RAFTKV_ENDPOINTS: 'a:1' }).endpoints).toEqual(['http://c:3']);
    expect(apiOptions({}, { REDISCLI_AUTH: 'pw' }).token).toBe('pw');
    expect(apiOptions({ token: 't' }, { RAFTKV_HTTP_TOKEN: 'h', REDISCLI_AUTH: 'pw' }).token).toBe('t');
    expect(apiOptions({}, { RAFTKV_HTTP_TOKEN: 'h', REDISCLI_AUTH: 'pw' }).token).toBe('h');
  });

  it('refuses endpoints with paths or other schemes, and bad timeouts, as usage errors', () => {
    for (const endpoints of ['ftp://a:1', 'http://a:1/v1', 'http://a:1?x=1', ' , ']) {
      expect(() => apiOptions({ endpoints }, {}), endpoints).toThrow(ApiError);
    }
    expect(() => apiOptions({ 'timeout-ms': '0' }, {})).toThrow(/timeout-ms/);
    expect(() => apiOptions({ cacert: '/nonexistent/ca.pem' }, {})).toThrow(/cacert/);
  });

  it('sends the Bearer token and JSON body, and moves past an endpoint that is down', async () => {
    const seen: Array<{ auth?: string; body: string }> = [];
    const up = await serve((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ auth: req.headers.authorization, body });
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
    });
    const client = new ApiClient({ endpoints: ['http://127.0.0.1:1', up], token: 'tok', timeoutMs: 2000 });
    const res = await client.first('POST', '/v1/x', { a: 1 });
    expect(res.endpoint).toBe(up);
    expect(jsonBody(res)).toEqual({ ok: true });
    expect(seen).toEqual([{ auth: 'Bearer tok', body: '{"a":1}' }]);
    const all = await client.all('GET', '/v1/x');
    expect(all[0]).toHaveProperty('error');
    expect(all[1]).toHaveProperty('status', 200);
  });

  it('gives up on a member that accepts and never answers, within the deadline', async () => {
    const silent = await serve(() => {});
    const client = new ApiClient({ endpoints: [silent], timeoutMs: 200 });
    const t0 = performance.now();
    await expect(client.first('GET', '/v1/cluster')).rejects.toThrow(/no answer within 200 ms/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('says how to authenticate on a 401', async () => {
    const locked = await serve((_req, res) => {
      res.statusCode = 401;
      res.end('{"error":"unauthorized"}');
    });
    const res = await new ApiClient({ endpoints: [locked], timeoutMs: 2000 }).first('GET', '/v1/cluster');
    expect(() => jsonBody(res)).toThrow(/RAFTKV_HTTP_TOKEN/);
  });

  it("streams from the leader: past an endpoint that is down, along a follower's redirect", async () => {
    const leader = await serve((req, res) => {
      res.setHeader('x-path', req.url ?? '');
      res.end(Buffer.alloc(300_000, 7));
    });
    const follower = await serve((req, res) => {
      res.statusCode = 307;
      res.setHeader('location', `${leader}${req.url}`);
      res.end('{"error":"not_leader"}');
    });
    const client = new ApiClient({ endpoints: ['http://127.0.0.1:1', follower], timeoutMs: 2000 });
    const { endpoint, res } = await client.streamFromLeader('/v1/snapshot');
    expect(endpoint).toBe(leader);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-path']).toBe('/v1/snapshot');
    let bytes = 0;
    for await (const c of res) bytes += (c as Buffer).length;
    expect(bytes).toBe(300_000);
    await expect(new ApiClient({ endpoints: ['http://127.0.0.1:1'], timeoutMs: 2000 }).streamFromLeader('/v1/snapshot')).rejects.toThrow(
      /no endpoint answered/,
    );
  });
});
