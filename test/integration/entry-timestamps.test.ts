/**
 * The timestamp rule on a real node (LevelDB on disk, in-process): entry timestamps never go
 * backwards, and every read path judges expiry by the same clock (issue 11, hole 4).
 *
 * A leader whose clock ran ahead of the others is simulated by entries written with a ts ahead
 * of the wall clock, straight into the log (storage, or the node's own proposal path).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildHttpApp } from '../../src/http/app.ts';
import { decodeEntry, encodeEntry, entryTs } from '../../src/kv/codec.ts';
import { resolveConfig } from '../../src/node/config.ts';
import { createLogger } from '../../src/node/logger.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import type { RawNode } from '../../src/raft/index.ts';
import { EntryType } from '../../src/raft/types.ts';
import { startRespServer } from '../../src/resp/node-dispatcher.ts';
import type { RespServer } from '../../src/resp/server.ts';
import { LevelStorage } from '../../src/storage/index.ts';
import { RawClient } from '../resp/support/client.ts';
import { freePort, waitFor } from '../support/cluster-harness.ts';

const HOUR = 3_600_000;
const log = createLogger('silent', 'n1', false);
const dirs: string[] = [];
const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function config(dir: string) {
  return resolveConfig({ 'data-dir': dir, port: String(await freePort()), 'http-port': String(await freePort()), 'tick-ms': '10' }, {});
}

/** Every KV entry's ts in the node's log, in log order. */
function logTimestamps(storage: LevelStorage): number[] {
  const out: number[] = [];
  for (const e of storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.POSITIVE_INFINITY)) {
    const ts = e.type === EntryType.Normal && e.data.length > 0 ? entryTs(e.data) : undefined;
    if (ts !== undefined) out.push(ts);
  }
  return out;
}

describe('entry timestamps never go backwards', () => {
  it('a new leader whose unapplied log tail holds a future ts stamps nothing below it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkv-ts-'));
    dirs.push(dir);
    const cfg = await config(dir);
    // A single-voter cluster that has taken a write, then stopped.
    let node = await RaftNode.open(cfg, log);
    node.start();
    await waitFor(() => node.isLeader(), 5000, 'the single node to lead');
    await node.propose([{ type: 'set', key: Buffer.from('before'), value: Buffer.from('1') }]);
    await node.shutdown();

    // Its log gains a tail it never committed, written by a leader whose clock ran an hour ahead.
    const future = Date.now() + HOUR;
    const storage = await LevelStorage.open(dir, { logger: log });
    const { term, commit } = storage.initialState().hardState;
    const first = storage.lastIndex() + 1;
    const tail = [0, 1, 2].map((i) => ({
      index: first + i,
      term,
      type: EntryType.Normal,
      data: encodeEntry({ ts: future + i, ops: [{ type: 'set', key: Buffer.from(`tail${i}`), value: Buffer.from('x') }] }),
    }));
    await storage.save({ entries: tail });
    await storage.close();
    expect(commit).toBeLessThan(first);

    // It restarts and wins the next term. The first moment the core leads (before the Ready that
    // reports it), and when the node learns it leads, the tail is not applied: yet its clock,
    // and the write it proposes right then, are past the tail.
    node = await RaftNode.open(cfg, log);
    cleanup.push(() => node.shutdown());
    const seen: { where: string; applied: number; now: number }[] = [];
    const raw = (node as unknown as { raw: RawNode }).raw;
    const tick = raw.tick.bind(raw);
    raw.tick = () => {
      tick();
      if (raw.isLeader && seen.length === 0) seen.push({ where: 'core', applied: node.appliedIndex, now: node.now() });
    };
    let write: Promise<unknown> | undefined;
    node.on('leader', (id) => {
      if (id !== node.id || write) return;
      seen.push({ where: 'event', applied: node.appliedIndex, now: node.now() });
      write = node.propose([{ type: 'set', key: Buffer.from('after'), value: Buffer.from('2') }]);
    });
    node.start();
    await waitFor(() => write !== undefined, 5000, 'the node to lead');
    await write;
    expect(seen.map((s) => s.where)).toEqual(['core', 'event']);
    for (const s of seen) {
      expect(s.applied, s.where).toBeLessThan(first);
      expect(s.now, s.where).toBeGreaterThanOrEqual(future + 2);
    }
    const stamped = logTimestamps(node.storage);
    expect(stamped.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < stamped.length; i++) expect(stamped[i], `entry ts #${i}`).toBeGreaterThanOrEqual(stamped[i - 1]);
    expect(stamped.at(-1)).toBeGreaterThanOrEqual(future + 2);
    expect(decodeEntry(node.storage.entries(node.storage.lastIndex(), node.storage.lastIndex() + 1, Number.POSITIVE_INFINITY)[0].data).ops[0]).toMatchObject({
      type: 'set',
    });
  });
});

describe('reads judge expiry by one clock', () => {
  it('HTTP GET of a key expired by the leader’s clock agrees with RESP GET', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkv-ts-'));
    dirs.push(dir);
    const node = await RaftNode.open(await config(dir), log);
    const resp: RespServer = await startRespServer(node);
    const app: FastifyInstance = await buildHttpApp(node, log);
    await app.ready();
    cleanup.push(async () => {
      await node.shutdown();
      await resp.close();
      await app.close();
    });
    node.start();
    await waitFor(() => node.isLeader(), 5000, 'the single node to lead');
    // Only the read rule decides here: no logged expiry deletes the key meanwhile.
    vi.spyOn(node.kv, 'expiredSample').mockReturnValue([]);
    const client = await RawClient.connect(node.cfg.port);
    cleanup.push(() => client.close());

    const wall = Date.now();
    expect(await client.call('SET', 'gone', 'v', 'PXAT', String(wall + 30_000))).toEqual({ t: 'simple', v: 'OK' });
    expect(await client.call('SET', 'kept', 'v', 'PXAT', String(wall + HOUR + 30_000))).toEqual({ t: 'simple', v: 'OK' });
    // An entry stamped by a leader whose clock ran an hour ahead: the log's time is now past
    // `gone`'s expiry, though this machine's wall clock is not.
    const writes = (node as unknown as { units: { writes: { propose(d: Uint8Array): Promise<unknown> } } }).units.writes;
    const propose = writes.propose.bind(writes);
    await propose(encodeEntry({ ts: wall + HOUR, ops: [{ type: 'set', key: Buffer.from('marker'), value: Buffer.from('x') }] }));

    expect(await client.call('GET', 'gone')).toEqual({ t: 'null' });
    const http = await app.inject({ method: 'GET', url: '/v1/kv/gone' });
    expect(http.statusCode).toBe(404);
    // A live key's TTL is measured from the same clock too.
    const pttl = (await client.call('PTTL', 'kept')) as { t: 'int'; v: number };
    const body = (await app.inject({ method: 'GET', url: '/v1/kv/kept' })).json() as { ttl_ms: number };
    expect(pttl.v).toBeLessThanOrEqual(30_000);
    expect(body.ttl_ms).toBeLessThanOrEqual(30_000);
    expect(Math.abs(body.ttl_ms - Number(pttl.v))).toBeLessThan(5_000);
  });
});
