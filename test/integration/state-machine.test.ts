/**
 * The determinism rules seen from outside: TTL expiry and LRU eviction happen through the log,
 * so every replica agrees; and a corrupt data file stops a node with a clear error.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { raftkvArgs } from '../support/raftkv-build.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function metric(c: ClusterHarness, h: NodeHandle, name: string): Promise<number> {
  const text = await (await fetch(c.url(h, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

describe('replicated expiry and eviction', () => {
  it("expires a key on every node through the leader's logged delete", async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    expect((await cluster.put(leader, 'keep', 'forever')).status).toBe(200);
    expect((await cluster.put(leader, 'brief', 'soon gone', 600)).status).toBe(200);
    for (const h of cluster.nodes) {
      const r = await cluster.get(h, 'brief');
      expect(r.status).toBe(200);
      expect(r.ttl_ms).toBeGreaterThan(0);
      expect(r.ttl_ms).toBeLessThanOrEqual(600);
    }
    // Logically absent everywhere once its absolute expiry passes...
    await new Promise((r) => setTimeout(r, 650));
    for (const h of cluster.nodes) expect((await cluster.get(h, 'brief')).status).toBe(404);
    // ...and physically deleted everywhere by one logged conditional delete.
    await waitFor(
      async () => {
        const counts = await Promise.all(cluster!.nodes.map((h) => metric(cluster!, h, 'raftkv_keys')));
        return counts.every((n) => n === 1);
      },
      5000,
      'every node to apply the expiry',
    );
    for (const h of cluster.nodes) expect(await metric(cluster, h, 'raftkv_expired_keys_total')).toBe(1);
    for (const h of cluster.nodes) expect((await cluster.get(h, 'keep')).value).toBe('forever');
  });

  it('evicts the least recently used keys identically on every node', async () => {
    // Each key costs about 405 accounted bytes (key + 200-byte value + ITEM_OVERHEAD), so about
    // 79 of the 100 keys written fit: the 21 least recently used must go.
    cluster = new ClusterHarness({ extraArgs: ['--maxmemory', '32000', '--maxmemory-policy', 'allkeys-lru'] });
    await cluster.start();
    const leader = await cluster.waitLeader();
    const value = 'x'.repeat(200);
    for (let i = 0; i < 40; i++) expect((await cluster.put(leader, `old${i}`, value)).status).toBe(200);
    // Touch the first ten on the leader, whose LRU order decides what is evicted.
    for (let i = 0; i < 10; i++) expect((await cluster.get(leader, `old${i}`)).status).toBe(200);
    for (let i = 0; i < 60; i++) expect((await cluster.put(leader, `new${i}`, value)).status).toBe(200);
    await waitFor(async () => (await metric(cluster!, leader, 'raftkv_used_memory_bytes')) <= 32000, 5000, 'eviction');

    await cluster.waitApplied(leader, 5000);
    const present = async (h: NodeHandle) => {
      const keys: string[] = [];
      for (const k of [...Array.from({ length: 40 }, (_, i) => `old${i}`), ...Array.from({ length: 60 }, (_, i) => `new${i}`)]) {
        if ((await cluster!.get(h, k)).status === 200) keys.push(k);
      }
      return keys;
    };
    const sets = await Promise.all(cluster.nodes.map(present));
    expect(sets[1]).toEqual(sets[0]);
    expect(sets[2]).toEqual(sets[0]);
    // The recently read keys survived; the untouched old ones went first.
    for (let i = 0; i < 10; i++) expect(sets[0]).toContain(`old${i}`);
    expect(sets[0]).not.toContain('old10');
    expect(sets[0]).toContain('new59');
    const evicted = await Promise.all(cluster.nodes.map((h) => metric(cluster!, h, 'raftkv_evicted_keys_total')));
    expect(evicted[0]).toBeGreaterThan(0);
    expect(new Set(evicted).size).toBe(1);
  });
});

describe('crash safety', () => {
  it('refuses to start on a corrupt log record, naming the data directory and index', async () => {
    cluster = new ClusterHarness({ nodes: 1 });
    await cluster.start();
    const h = cluster.nodes[0];
    await cluster.waitLeader();
    const marker = 'CORRUPT-ME-0123456789';
    expect((await cluster.put(h, 'victim', marker)).status).toBe(200);
    await cluster.kill9(h);

    let flipped = false;
    for (const f of readdirSync(h.dataDir)) {
      if (!/\.(log|ldb)$/.test(f)) continue;
      const path = join(h.dataDir, f);
      const buf = readFileSync(path);
      const at = buf.indexOf(marker);
      if (at >= 0) {
        buf[at + 3] ^= 0xff;
        writeFileSync(path, buf);
        flipped = true;
      }
    }
    expect(flipped).toBe(true);

    const r = spawnSync(
      process.execPath,
      [...raftkvArgs(), 'start', '--id', 'n1', '--port', String(h.port), '--http-port', String(h.httpPort), '--data-dir', h.dataDir],
      { encoding: 'utf8', timeout: 20_000, env: { ...process.env, RAFTKV_LOG_PRETTY: '0' } },
    );
    expect(r.status).not.toBe(0);
    const output = r.stdout + r.stderr;
    expect(output).toContain(h.dataDir);
    expect(output).toMatch(/corrupt/i);
    expect(output).toMatch(/index \d+/);
  });
});
