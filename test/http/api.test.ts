/**
 * The HTTP API of a real single-node cluster (LevelDB on disk), through fastify's injector:
 * schemas, error codes and the OpenAPI document. Bad input gets a clear 4xx, never a crash.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/http/app.ts';
import { resolveConfig } from '../../src/node/config.ts';
import { createLogger } from '../../src/node/logger.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { freePort, waitFor } from '../support/cluster-harness.ts';
import { raftkvArgs } from '../support/raftkv-build.ts';

let node: RaftNode;
let app: FastifyInstance;
const dir = mkdtempSync(join(tmpdir(), 'raftkv-http-'));

beforeAll(async () => {
  const cfg = resolveConfig(
    { 'data-dir': dir, port: String(await freePort()), 'http-port': String(await freePort()), 'tick-ms': '10', 'max-value-bytes': '1000' },
    {},
  );
  const log = createLogger('silent', 'n1', false);
  node = await RaftNode.open(cfg, log);
  app = await buildHttpApp(node, log);
  await app.ready();
  node.start();
  await waitFor(() => node.isLeader(), 5000, 'the single node to lead');
});

afterAll(async () => {
  await node.shutdown();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP API', () => {
  it('writes, reads with a TTL, and deletes a key', async () => {
    const put = await app.inject({ method: 'PUT', url: '/v1/kv/colour', payload: { value: 'blue', ttl_ms: 60_000 } });
    expect(put.statusCode).toBe(200);
    const get = await app.inject({ method: 'GET', url: '/v1/kv/colour' });
    expect(get.statusCode).toBe(200);
    const body = get.json() as { value: string; ttl_ms: number };
    expect(body.value).toBe('blue');
    expect(body.ttl_ms).toBeGreaterThan(59_000);
    expect(body.ttl_ms).toBeLessThanOrEqual(60_000);
    expect((await app.inject({ method: 'DELETE', url: '/v1/kv/colour' })).json()).toEqual({ deleted: 1 });
    expect((await app.inject({ method: 'DELETE', url: '/v1/kv/colour' })).json()).toEqual({ deleted: 0 });
    const gone = await app.inject({ method: 'GET', url: '/v1/kv/colour' });
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toMatchObject({ error: 'not_found' });
  });

  it('answers 409 wrong_type for a key holding a hash (issue 14); PUT replaces it, DELETE deletes it', async () => {
    await node.propose([{ type: 'hset', key: Buffer.from('profile'), pairs: [[Buffer.from('name'), Buffer.from('ada')]] }]);
    const get = await app.inject({ method: 'GET', url: '/v1/kv/profile' });
    expect(get.statusCode).toBe(409);
    expect(get.json()).toEqual({ error: 'wrong_type', message: 'WRONGTYPE Operation against a key holding the wrong kind of value' });
    expect((await app.inject({ method: 'PUT', url: '/v1/kv/profile', payload: { value: 'x' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/kv/profile' })).json()).toMatchObject({ value: 'x' });
    await node.propose([{ type: 'sadd', key: Buffer.from('tags'), members: [Buffer.from('a')] }]);
    expect((await app.inject({ method: 'DELETE', url: '/v1/kv/tags' })).json()).toEqual({ deleted: 1 });
  });

  it('answers malformed bodies with 400 and a message', async () => {
    const notJson = await app.inject({ method: 'PUT', url: '/v1/kv/a', headers: { 'content-type': 'application/json' }, payload: '{"value":' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().message).toMatch(/JSON/i);
    const noValue = await app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { ttl_ms: 5 } });
    expect(noValue.statusCode).toBe(400);
    expect(noValue.json().message).toMatch(/value/);
    const badTtl = await app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: 'x', ttl_ms: -1 } });
    expect(badTtl.statusCode).toBe(400);
    const badMember = await app.inject({ method: 'POST', url: '/v1/cluster/members', payload: { id: 'n2', host: 'h', port: 99999, http_port: 1 } });
    expect(badMember.statusCode).toBe(400);
  });

  it('answers oversized values with 413, and the node keeps serving', async () => {
    const big = await app.inject({ method: 'PUT', url: '/v1/kv/big', payload: { value: 'x'.repeat(1001) } });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ error: 'value_too_large' });
    expect((await app.inject({ method: 'PUT', url: '/v1/kv/small', payload: { value: 'x'.repeat(1000) } })).statusCode).toBe(200);
  });

  it('answers unknown members with 404 and an existing one with 409', async () => {
    const del = await app.inject({ method: 'DELETE', url: '/v1/cluster/members/nope' });
    expect(del.statusCode).toBe(404);
    expect(del.json()).toMatchObject({ error: 'unknown_member' });
    const dup = await app.inject({ method: 'POST', url: '/v1/cluster/members', payload: { id: 'n1', host: '127.0.0.1', port: 1, http_port: 2 } });
    expect(dup.statusCode).toBe(409);
  });

  it('reports health, readiness, cluster status, metrics and an OpenAPI document', async () => {
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ready: true, leader: 'n1' });
    const st = (await app.inject('/v1/cluster')).json();
    expect(st).toMatchObject({ id: 'n1', role: 'leader', leader: 'n1', voters: ['n1'] });
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toMatch(/^raftkv_server_is_leader 1$/m);
    expect(metrics.body).toMatch(/^raftkv_disk_fsync_duration_seconds_count \d+$/m);
    const api = (await app.inject('/openapi.json')).json();
    expect(api.openapi).toMatch(/^3\./);
    expect(Object.keys(api.paths)).toEqual(expect.arrayContaining(['/v1/kv/{key}', '/v1/cluster', '/v1/cluster/members']));
    for (const method of ['put', 'delete']) {
      const names = api.paths['/v1/kv/{key}'][method].parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
      expect(names).toContain('header:idempotency-key');
    }
  });
});

describe('raftkv start', () => {
  it('exits non-zero on a bad setting and names it', () => {
    const r = spawnSync(process.execPath, [...raftkvArgs(), 'start', '--port', 'eighty'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("invalid setting 'port'");
  });
});
