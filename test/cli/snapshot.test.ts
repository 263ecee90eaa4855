/**
 * Backup and restore over real processes (issue 12, point 1): `raftkv snapshot save` from a
 * 3-node cluster with a password, through a follower (which redirects to the leader);
 * `snapshot status`; `snapshot restore` into fresh folders, a new cluster started on them, and
 * the keys, values, TTLs (still counting down) and LRU order read back; a corrupt and a
 * truncated file refused with nothing written; no credential, no backup.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LevelStorage } from '../../src/storage/index.ts';
import { ClusterHarness, freeBasePort, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { raftkvArgs } from '../support/raftkv-build.ts';
import { runRaftkv } from '../support/raftkv-cli.ts';

const PASSWORD = 'backup-test-password';
const dir = mkdtempSync(join(tmpdir(), 'raftkv-backup-'));
const file = join(dir, 'backup.snapshot');

/** The real CLI, as an operator runs it. */
const cli = (args: string[], env: Record<string, string> = {}) => runRaftkv(args, env);

function redis(h: NodeHandle): Redis {
  return new Redis({ port: h.port, host: '127.0.0.1', password: PASSWORD, lazyConnect: true, maxRetriesPerRequest: 1 });
}

const source = new ClusterHarness({ nodes: 3, extraArgs: ['--requirepass', PASSWORD], httpToken: PASSWORD });
/** Absolute expiry times of the TTL keys in the source cluster. */
const expiries = new Map<string, number>();
const LRU_KEYS = Array.from({ length: 10 }, (_, i) => `lru:${i}`);
const PLAIN_KEYS = Array.from({ length: 20 }, (_, i) => `plain:${i}`);
const VALUE = 'v'.repeat(1000);
/** The source cluster's id, as the backup's header has it. */
let sourceClusterId = '';

beforeAll(async () => {
  await source.start();
  const leader = await source.waitLeader();
  const r = redis(leader);
  try {
    for (const k of PLAIN_KEYS) await r.set(k, `value of ${k}`);
    await r.set('bin', Buffer.from([0, 1, 2, 255, 254, 13, 10]));
    await r.set('ttl:long', 'stays', 'PX', 120_000);
    await r.set('ttl:short', 'goes', 'PX', 45_000);
    for (const k of ['ttl:long', 'ttl:short']) expiries.set(k, Number(await r.pexpiretime(k)));
    for (const k of LRU_KEYS) await r.set(k, VALUE);
    // LRU order, least recent first: lru:9 .. lru:0, then every other key. Creation order is
    // the other way round, so a restore that lost the order would evict other keys first.
    for (const k of [...LRU_KEYS].reverse()) await r.get(k);
    for (const k of [...PLAIN_KEYS, 'bin', 'ttl:long', 'ttl:short']) await r.get(k);
  } finally {
    r.disconnect();
  }
}, 60_000);

afterAll(async () => {
  await source.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('raftkv snapshot save / status', () => {
  it('refuses a backup without the credential (401), and the CLI says how to authenticate', async () => {
    const h = source.nodes[0];
    const res = await fetch(source.url(h, '/v1/snapshot'));
    expect(res.status).toBe(401);
    const run = await cli(['snapshot', 'save', join(dir, 'denied.snapshot'), '--endpoints', `127.0.0.1:${h.httpPort}`]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/401 unauthorized.*RAFTKV_HTTP_TOKEN/);
    expect(readdirSync(dir).filter((f) => f.startsWith('denied'))).toEqual([]);
  });

  it('saves from the leader through a follower, and status prints the verified header', async () => {
    const leader = await source.waitLeader();
    const follower = source.nodes.find((n) => n.id !== leader.id)!;
    const run = await cli(['snapshot', 'save', file, '--endpoints', `http://127.0.0.1:${follower.httpPort}`], { RAFTKV_HTTP_TOKEN: PASSWORD });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`saved .*: index \\d+, term \\d+, ${PLAIN_KEYS.length + LRU_KEYS.length + 3} keys, .* from ${leader.id}`));
    expect(existsSync(`${file}.part`)).toBe(false);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const json = await cli(['snapshot', 'status', file, '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const h = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(typeof h.clusterId).toBe('string');
    sourceClusterId = h.clusterId as string;
    expect(h).toMatchObject({ checksum: 'ok', keyCount: 33, node: leader.id, voters: ['n1', 'n2', 'n3'], learners: [] });
    expect((h.members as { id: string }[]).map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(h.index).toBeGreaterThan(33);
    expect(Date.now() - Date.parse(h.createdAt as string)).toBeLessThan(60_000);

    const table = await cli(['snapshot', 'status', file]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^checksum +sha256 ok$/m);
    expect(table.stdout).toMatch(/^keys +33$/m);
    expect(table.stdout).toMatch(new RegExp(`^index +${h.index}$`, 'm'));
  }, 60_000);
});

describe('a cluster restored from the backup', () => {
  let restored: ClusterHarness;
  let restoreOutput = '';

  beforeAll(async () => {
    expect(existsSync(file)).toBe(true);
    restored = new ClusterHarness({
      nodes: 3,
      extraArgs: ['--requirepass', PASSWORD],
      httpToken: PASSWORD,
      prepare: async (nodes, peers) => {
        for (const n of nodes) {
          const run = await cli(['snapshot', 'restore', file, '--data-dir', n.dataDir, '--id', n.id, '--peers', peers]);
          if (run.code !== 0) throw new Error(`restore failed: ${run.stderr}`);
          restoreOutput += run.stdout;
        }
      },
    });
    await restored.start();
  }, 120_000);

  afterAll(() => restored?.stop());

  it('every member got the same new cluster id', () => {
    const ids = [...restoreOutput.matchAll(/new cluster id (\S+) \(was (\S+)\)/g)].map((m) => [m[1], m[2]]);
    expect(ids).toHaveLength(3);
    expect(new Set(ids.map(([id]) => id)).size).toBe(1);
    expect(ids.every(([id, was]) => was === sourceClusterId && id !== was)).toBe(true);
  });

  it('evicts in the backed-up LRU order', async () => {
    const leader = await restored.waitLeader(20_000);
    const r = redis(leader);
    try {
      const used = Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);
      const lruItem = 'lru:0'.length + VALUE.length + 200; // ITEM_OVERHEAD
      await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
      // Room for all but two and a half LRU keys: the three least recently used must go.
      await r.config('SET', 'maxmemory', String(used - Math.floor(2.5 * lruItem)));
      await waitFor(async () => Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]) < used - 2 * lruItem, 10_000, 'eviction');
      const left = await Promise.all([...LRU_KEYS, ...PLAIN_KEYS].map((k) => r.exists(k)));
      expect(left).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0, ...PLAIN_KEYS.map(() => 1)]);
      await r.config('SET', 'maxmemory', '0');
    } finally {
      r.disconnect();
    }
  }, 60_000);

  it('has the keys, values and TTLs, which keep counting down', { timeout: 90_000 }, async () => {
    const leader = await restored.waitLeader(20_000);
    const r = redis(leader);
    try {
      for (const k of PLAIN_KEYS) expect(await r.get(k)).toBe(`value of ${k}`);
      expect(await r.getBuffer('bin')).toEqual(Buffer.from([0, 1, 2, 255, 254, 13, 10]));
      expect(await r.get('ttl:long')).toBe('stays');
      // Absolute: the same expiry time, not a TTL restarted at the restore.
      expect(Number(await r.pexpiretime('ttl:long'))).toBe(expiries.get('ttl:long'));
      const ttl1 = Number(await r.pttl('ttl:long'));
      await new Promise((res) => setTimeout(res, 300));
      const ttl2 = Number(await r.pttl('ttl:long'));
      expect(ttl1).toBeGreaterThan(0);
      expect(ttl2).toBeLessThan(ttl1);
      // The short one is still there, and runs out at its original time.
      expect(Number(await r.pttl('ttl:short'))).toBeGreaterThan(0);
      const short = expiries.get('ttl:short')!;
      await waitFor(async () => (await r.exists('ttl:short')) === 0, Math.max(0, short - Date.now()) + 5_000, 'ttl:short to expire');
      expect(Date.now()).toBeGreaterThanOrEqual(short);
      expect(await r.dbsize()).toBe(PLAIN_KEYS.length + LRU_KEYS.length + 2 - 3);
    } finally {
      r.disconnect();
    }
  });
});

describe('npm start -- --restore FILE', () => {
  it('starts the local cluster from the backup, and refuses folders that hold data', { timeout: 120_000 }, async () => {
    const base = await freeBasePort([0, 1, 2, 10000, 10001, 10002]);
    const root = join(dir, 'local');
    const args = [...raftkvArgs(), 'cluster', '--nodes', '3', '--base-port', String(base), '--data-dir', root, '--restore', file, '--log-level', 'warn'];
    // Its own process group, so that the cleanup reaches the nodes whatever happens.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const http = `http://127.0.0.1:${base + 10000}`;
      await waitFor(
        async () => {
          const r = await fetch(`${http}/v1/kv/plain%3A7`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
          return r?.status === 200 && ((await r.json()) as { value: string }).value === 'value of plain:7';
        },
        60_000,
        `the restored local cluster to serve plain:7 (output: ${out})`,
      );
      expect(out).toMatch(/restored .* \(33 keys at index \d+\) into 3 data folders; new cluster id \S+/);
      const ttl = (await (await fetch(`${http}/v1/kv/ttl%3Along`)).json()) as { ttl_ms: number };
      expect(ttl.ttl_ms).toBeGreaterThan(0);
      expect(ttl.ttl_ms).toBeLessThanOrEqual(expiries.get('ttl:long')! - Date.now() + 1000);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
    const again = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    again.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => again.on('exit', (c) => resolve(c)));
    expect(code, err).toBe(1);
    expect(err).toMatch(/cannot restore .*: .*n1 already holds data/);
  });
});

describe('a damaged backup', () => {
  it('is refused by status and restore, with nothing written', async () => {
    const corrupt = join(dir, 'corrupt.snapshot');
    copyFileSync(file, corrupt);
    const bytes = readFileSync(corrupt);
    bytes[Math.floor(bytes.length / 2)] ^= 0x40; // inside the keyspace image
    writeFileSync(corrupt, bytes);
    const truncated = join(dir, 'truncated.snapshot');
    copyFileSync(file, truncated);
    truncateSync(truncated, Math.floor(bytes.length * 0.7));
    const garbage = join(dir, 'garbage.snapshot');
    writeFileSync(garbage, 'not a backup at all');

    for (const [f, why] of [
      [corrupt, /checksum mismatch/],
      [truncated, /truncated: \d+ of \d+ bytes/],
      [garbage, /not a RaftKV backup/],
    ] as const) {
      const status = await cli(['snapshot', 'status', f]);
      expect(status.code, status.stderr).toBe(1);
      expect(status.stderr).toMatch(why);
      const target = join(dir, `restored-from-${f.split('/').pop()}`);
      const restore = await cli(['snapshot', 'restore', f, '--data-dir', target, '--id', 'n1', '--peers', 'n1=127.0.0.1:7001']);
      expect(restore.code, restore.stderr).toBe(1);
      expect(restore.stderr).toMatch(why);
      expect(existsSync(target)).toBe(false);
    }
    // Nothing left behind, temporary folders included.
    expect(readdirSync(dir).filter((f) => f.includes('restor'))).toEqual([]);
  }, 60_000);

  it('is refused into a folder that holds data', async () => {
    const target = join(dir, 'occupied');
    rmSync(target, { recursive: true, force: true });
    const run0 = await cli(['snapshot', 'restore', file, '--data-dir', target, '--id', 'n1', '--peers', 'n1=127.0.0.1:7001']);
    expect(run0.code, run0.stderr).toBe(0);
    // The new identity is stored with the log, where the node reads it (node/cluster-id.ts).
    const storage = await LevelStorage.open(target);
    try {
      expect(storage.clusterId()).toBe(/new cluster id (\S+)/.exec(run0.stdout)?.[1]);
      expect(storage.snapshotMeta()).toMatchObject({ conf: { voters: ['n1'], learners: [] } });
    } finally {
      await storage.close();
    }
    const again = await cli(['snapshot', 'restore', file, '--data-dir', target, '--id', 'n1', '--peers', 'n1=127.0.0.1:7001']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds data');
  }, 60_000);
});

describe('the CLI', () => {
  it('answers usage errors with exit 2 and --help with exit 0', async () => {
    const help = await cli(['snapshot', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('raftkv snapshot restore FILE --data-dir DIR --id ID --peers');
    for (const args of [
      ['snapshot'],
      ['snapshot', 'bogus'],
      ['snapshot', 'status'],
      ['snapshot', 'save', 'f', '--nope'],
      ['snapshot', 'restore', file, '--id', 'n1'],
    ]) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, 'one line naming the problem').toMatch(/^raftkv snapshot[a-z ]*: .*--help lists the options\)\n$/);
    }
    const notMember = await cli(['snapshot', 'restore', file, '--data-dir', join(dir, 'x'), '--id', 'n9', '--peers', 'n1=127.0.0.1:1']);
    expect(notMember.code).toBe(2);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  }, 60_000);
});
