/**
 * The admin API checks what it would propose before proposing it: a real single-node cluster
 * (LevelDB on disk) through fastify's injector. Each refusal is a 400 `bad_request` whose
 * `field` names the offending field, and nothing reaches the log: the applied index does not
 * move. The 3-node proof of the poison entry is test/integration/poison-entry.test.ts.
 */
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

let node: RaftNode;
let app: FastifyInstance;
const dir = mkdtempSync(join(tmpdir(), 'raftkv-admin-'));

beforeAll(async () => {
  const cfg = resolveConfig({ 'data-dir': dir, port: String(await freePort()), 'http-port': String(await freePort()), 'tick-ms': '10' }, {});
  const log = createLogger('silent', 'n1', false);
  node = await RaftNode.open(cfg, log);
  app = await buildHttpApp(node, log);
  await app.ready();
  node.start();
  // Also wait for the new leader's no-op to apply, or it could move the index mid-test.
  await waitFor(() => node.isLeader() && node.appliedIndex === node.status().lastIndex, 5000, 'the single node to lead and apply its no-op');
});

afterAll(async () => {
  await node.shutdown();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const good = { id: 'n4', host: '127.0.0.1', port: 7000, http_port: 17000 };

describe('admin requests are validated before they are proposed', () => {
  const members: [string, Record<string, unknown>, string][] = [
    ['the poison host of issue 10', { id: 'x', host: 'a b', port: 1, http_port: 1 }, 'host'],
    ['a host that is no IPv4 address', { ...good, host: '256.1.1.1' }, 'host'],
    ['a host with a port in it', { ...good, host: '127.0.0.1:80' }, 'host'],
    ['a URL as host', { ...good, host: 'ws://h/' }, 'host'],
    ['an empty host', { ...good, host: '' }, 'host'],
    ['a 254-character host', { ...good, host: 'a'.repeat(254) }, 'host'],
    ['a 64-character label', { ...good, host: `${'a'.repeat(64)}.com` }, 'host'],
    ['an id with a space', { ...good, id: 'a b' }, 'id'],
    ['a 65-character id', { ...good, id: 'a'.repeat(65) }, 'id'],
    ['port 0', { ...good, port: 0 }, 'port'],
    ['http_port 65536', { ...good, http_port: 65536 }, 'http_port'],
    ['a missing http_port', { id: 'n4', host: 'h', port: 1 }, 'http_port'],
    ['a fractional port', { ...good, port: 1.5 }, 'port'],
    ['an object as host', { ...good, host: { a: 1 } }, 'host'],
  ];
  for (const [what, body, field] of members) {
    it(`refuses a member with ${what}, naming '${field}'`, async () => {
      const before = node.appliedIndex;
      const r = await app.inject({ method: 'POST', url: '/v1/cluster/members', payload: body });
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json()).toMatchObject({ error: 'bad_request', field });
      expect(r.json().message).toContain(field);
      expect(node.appliedIndex).toBe(before);
      expect(node.confState().learners).toEqual([]);
    });
  }

  it('checks the id of DELETE and the target of a leadership transfer with the same rule', async () => {
    const del = await app.inject({ method: 'DELETE', url: `/v1/cluster/members/${encodeURIComponent('a b')}` });
    expect(del.statusCode).toBe(400);
    expect(del.json()).toMatchObject({ error: 'bad_request', field: 'id' });
    const to = await app.inject({ method: 'POST', url: '/v1/cluster/transfer-leadership', payload: { to: 'x'.repeat(65) } });
    expect(to.statusCode).toBe(400);
    expect(to.json()).toMatchObject({ error: 'bad_request', field: 'to' });
  });

  it('takes force only as a boolean (true or false), naming it otherwise', async () => {
    const before = node.appliedIndex;
    for (const url of ['/v1/cluster/members?force=maybe', '/v1/cluster/members?force=']) {
      const r = await app.inject({ method: 'POST', url, payload: good });
      expect(r.statusCode, url).toBe(400);
      expect(r.json()).toMatchObject({ error: 'bad_request', field: 'force' });
    }
    const del = await app.inject({ method: 'DELETE', url: '/v1/cluster/members/n1?force=2' });
    expect(del.statusCode).toBe(400);
    expect(del.json()).toMatchObject({ error: 'bad_request', field: 'force' });
    expect(node.appliedIndex).toBe(before);
    const forced = await app.inject({ method: 'POST', url: '/v1/cluster/members?force=true', payload: { ...good, id: 'forced' } });
    expect(forced.statusCode, forced.body).toBe(202);
    expect((await app.inject({ method: 'DELETE', url: '/v1/cluster/members/forced?force=false' })).statusCode).toBe(200);
    expect(node.confState().learners).toEqual([]);
  });

  it('accepts IPv6 literals and hostnames, and the member can be removed again', async () => {
    for (const [id, host] of [
      ['v6', '::1'],
      ['named', 'localhost'],
    ]) {
      const r = await app.inject({ method: 'POST', url: '/v1/cluster/members', payload: { ...good, id, host } });
      expect(r.statusCode, r.body).toBe(202);
      expect(node.members.get(id)?.host).toBe(host);
      expect((await app.inject({ method: 'DELETE', url: `/v1/cluster/members/${id}` })).statusCode).toBe(200);
    }
    expect(node.confState().learners).toEqual([]);
  });
});
