/**
 * The real `redis-cli` (Debian's redis-tools, installed by .ci/run; required, not skipped)
 * against a live 3-node cluster: `-c` follows MOVED from a follower to the leader, TTLs count
 * down and keys expire, `--pipe` mass-inserts 100k keys, and `--scan` lists them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { redisCli } from '../support/programs.ts';

const cluster = new ClusterHarness({ nodes: 3 });
let leader: NodeHandle;
let follower: NodeHandle;

beforeAll(async () => {
  await cluster.start();
  leader = await cluster.waitLeader();
  follower = cluster.nodes.find((h) => h !== leader)!;
}, 60_000);

afterAll(() => cluster.stop());

const at = (h: NodeHandle, ...args: string[]) => redisCli(['-p', String(h.port), ...args]);

describe('redis-cli against a 3-node cluster', () => {
  it('is the real redis-cli 7', async () => {
    const version = await redisCli(['--version']);
    expect(version).toMatch(/^redis-cli 7\./);
  });

  it('-c against a follower follows MOVED: set then get', async () => {
    expect(await at(follower, '-c', 'set', 'greeting', 'hello')).toBe('OK\n');
    expect(await at(follower, '-c', 'get', 'greeting')).toBe('hello\n');
    expect(await at(follower, '-c', 'incrby', 'counter', '5')).toBe('5\n');
    // Without -c the redirect is shown as is.
    expect(await at(follower, 'get', 'greeting')).toMatch(/^MOVED \d+ 127\.0\.0\.1:\d+\n/);
  });

  it('TTLs count down and the key expires on every node', async () => {
    expect(await at(follower, '-c', 'set', 'short', 'lived', 'px', '2500')).toBe('OK\n');
    const first = Number(await at(follower, '-c', 'pttl', 'short'));
    expect(first).toBeGreaterThan(1500);
    expect(first).toBeLessThanOrEqual(2500);
    expect(Number(await at(follower, '-c', 'ttl', 'short'))).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1200));
    const second = Number(await at(follower, '-c', 'pttl', 'short'));
    expect(second).toBeLessThan(first - 1000);
    expect(second).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, second + 100));
    expect(await at(follower, '-c', 'get', 'short')).toBe('\n');
    expect(await at(follower, '-c', 'ttl', 'short')).toBe('-2\n');
    for (const h of cluster.nodes) expect(await at(h, '-c', 'exists', 'short')).toBe('0\n');
  });

  it('--pipe mass-inserts 100k keys; DBSIZE counts them and --scan lists them', async () => {
    await at(leader, 'flushall');
    const n = 100_000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = `key:${i}`;
      const v = `value:${i}`;
      parts.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
    }
    const t0 = Date.now();
    const piped = await redisCli(['-p', String(leader.port), '--pipe'], parts.join(''));
    const pipeMs = Date.now() - t0;
    expect(piped).toContain(`errors: 0, replies: ${n}`);
    expect(await at(leader, 'dbsize')).toBe(`${n}\n`);
    const t1 = Date.now();
    const listed = (await at(leader, '--scan')).split('\n').filter(Boolean);
    const scanMs = Date.now() - t1;
    expect(listed).toHaveLength(n);
    expect(new Set(listed).size).toBe(n);
    expect(listed.every((k) => /^key:\d+$/.test(k) && Number(k.slice(4)) < n)).toBe(true);
    const some = (await at(leader, '--scan', '--pattern', 'key:9999*')).split('\n').filter(Boolean).sort();
    expect(some).toEqual([
      'key:9999',
      'key:99990',
      'key:99991',
      'key:99992',
      'key:99993',
      'key:99994',
      'key:99995',
      'key:99996',
      'key:99997',
      'key:99998',
      'key:99999',
    ]);
    // Every follower applied them too (INFO runs on any node).
    await waitFor(
      async () => {
        const infos = await Promise.all(cluster.nodes.map((h) => at(h, 'info', 'keyspace')));
        return infos.every((i) => i.includes(`db0:keys=${n}`));
      },
      20_000,
      'followers to apply the mass insert',
    );
    console.info(`redis-cli --pipe of ${n} SETs: ${pipeMs} ms; --scan of ${n} keys: ${scanMs} ms`);
  }, 120_000);
});
