/**
 * Cluster-wide settings through the log, on a live 3-node cluster: CONFIG SET requirepass on
 * the leader makes every node require AUTH (connections already authenticated stay so, as in
 * Redis); the password survives a leader kill, a restart of every node (also one started with
 * another --requirepass flag: the log wins) and reaches, with a snapshot, a node that was down
 * and a new member; maxmemory and its policy set cluster-wide hold on the new leader after a
 * failover; through a follower, `redis-cli -c` follows the MOVED of CONFIG SET. No password
 * ever reaches a log line or /metrics.
 */
import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { redisCli } from '../support/programs.ts';
import { RawConn } from './support/resp-bytes.ts';

/** Snapshots often, and keep little log after one, so a lagging node gets a snapshot. */
const cluster = new ClusterHarness({ nodes: 3, extraArgs: ['--snapshot-entries', '100', '--snapshot-keep-entries', '10'] });
const PW = 's3cret-Pässwort';
const PW2 = 'n3w-pass';
const FLAG_PW = 'flag-pass';
const NOAUTH = '-NOAUTH Authentication required.\r\n';
const WRONGPASS = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
const OOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

beforeAll(async () => {
  await cluster.start();
  await cluster.waitLeader();
}, 60_000);

afterAll(() => cluster.stop());

/** The reply of one command on a new connection, after `AUTH password` when one is given. */
async function ask(h: NodeHandle, password: string | undefined, ...args: string[]): Promise<string> {
  const c = await RawConn.open(h.port);
  try {
    if (password !== undefined) {
      const auth = (await c.call('auth', Buffer.from(password))).toString();
      if (auth !== '+OK\r\n') return auth;
    }
    return (await c.call(...args.map((a) => Buffer.from(a)))).toString();
  } finally {
    c.close();
  }
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const configReply = (name: string, value: string) => `*2\r\n${bulk(name)}${bulk(value)}`;

/** Waits until every running node answers `args` (after AUTH) with `expected`. */
async function everyNode(password: string, args: string[], expected: string, what: string): Promise<void> {
  for (const h of cluster.running()) {
    await waitFor(async () => (await ask(h, password, ...args)) === expected, 20_000, `${h.id}: ${what}`);
  }
}

describe('cluster-wide CONFIG SET through the log', () => {
  it('requirepass set on the leader: every node requires AUTH for new connections; authenticated ones stay', async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((h) => h !== leader)!;
    for (const h of cluster.nodes) expect(await ask(h, undefined, 'ping')).toBe('+PONG\r\n');
    const setter = await RawConn.open(leader.port);
    const before = await RawConn.open(follower.port);
    try {
      expect((await setter.call('config', 'set', 'requirepass', Buffer.from(PW))).toString()).toBe('+OK\r\n');
      cluster.httpToken = PW;
      // +OK comes once applied on the leader: it already requires the password.
      expect(await ask(leader, undefined, 'ping')).toBe(NOAUTH);
      for (const h of cluster.nodes) {
        await waitFor(async () => (await ask(h, undefined, 'ping')) === NOAUTH, 20_000, `${h.id} to require AUTH`);
        expect(await ask(h, 'wrong', 'ping')).toBe(WRONGPASS);
        expect(await ask(h, PW, 'config', 'get', 'requirepass')).toBe(configReply('requirepass', PW));
      }
      // Redis keeps connections authenticated when the password changes; so does RaftKV.
      expect((await setter.call('set', 'k', 'v')).toString()).toBe('+OK\r\n');
      expect((await before.call('config', 'get', 'requirepass')).toString()).toBe(configReply('requirepass', PW));
    } finally {
      setter.close();
      before.close();
    }
  });

  it('checks values before proposing (Redis error texts, a bad pair sets nothing); inside MULTI it runs at EXEC', async () => {
    const leader = await cluster.waitLeader();
    expect(await ask(leader, PW, 'config', 'set', 'maxmemory-policy', 'allkeys-lru', 'maxmemory', '12x')).toBe(
      "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
    );
    expect(await ask(leader, PW, 'config', 'get', 'maxmemory-policy')).toBe(configReply('maxmemory-policy', 'noeviction'));
    // Inside MULTI it runs at EXEC, after the transaction's own entry, as its own entry.
    const c = await RawConn.open(leader.port);
    try {
      const replies = [];
      for (const cmd of [['auth', PW], ['multi'], ['set', 'm', '1'], ['config', 'set', 'maxmemory-policy', 'allkeys-random'], ['exec']]) {
        replies.push((await c.call(...cmd.map((a) => Buffer.from(a)))).toString());
      }
      expect(replies).toEqual(['+OK\r\n', '+OK\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '*2\r\n+OK\r\n+OK\r\n']);
    } finally {
      c.close();
    }
    expect(await ask(leader, PW, 'config', 'get', 'maxmemory-policy')).toBe(configReply('maxmemory-policy', 'allkeys-random'));
    expect(await ask(leader, PW, 'config', 'set', 'maxmemory-policy', 'noeviction')).toBe('+OK\r\n');
  });

  it('through a follower: MOVED to the leader, which redis-cli -c follows (ioredis Cluster too); every node applies it', async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((h) => h !== leader)!;
    const base = ['-p', String(follower.port), '-a', PW, '--no-auth-warning'];
    // Without -c, redis-cli shows the redirect as is.
    expect(await redisCli([...base, 'config', 'set', 'maxmemory-policy', 'volatile-ttl'])).toBe(`MOVED 0 127.0.0.1:${leader.port}\n\n`);
    expect(await ask(follower, PW, 'config', 'get', 'maxmemory-policy')).toBe(configReply('maxmemory-policy', 'noeviction'));
    // All or nothing: the node-local parameter sent with it is not applied either.
    const moved = `-MOVED 0 127.0.0.1:${leader.port}\r\n`;
    expect(await ask(follower, PW, 'config', 'set', 'maxclients', '5000', 'maxmemory-policy', 'volatile-ttl')).toBe(moved);
    expect(await ask(follower, PW, 'config', 'get', 'maxclients')).toBe(configReply('maxclients', '10000'));
    // Alone, a node-local parameter applies on the follower itself, and only there.
    expect(await ask(follower, PW, 'config', 'set', 'maxclients', '5000')).toBe('+OK\r\n');
    expect(await ask(follower, PW, 'config', 'get', 'maxclients')).toBe(configReply('maxclients', '5000'));
    expect(await ask(leader, PW, 'config', 'get', 'maxclients')).toBe(configReply('maxclients', '10000'));
    expect(await redisCli(['-c', ...base, 'config', 'set', 'maxmemory-policy', 'volatile-ttl'])).toBe('OK\n');
    await everyNode(PW, ['config', 'get', 'maxmemory-policy'], configReply('maxmemory-policy', 'volatile-ttl'), 'policy volatile-ttl');
    // ioredis Cluster, seeded with the follower only, gets it to the leader too.
    const io = new Cluster([{ host: '127.0.0.1', port: follower.port }], { redisOptions: { password: PW } });
    io.on('error', () => {});
    try {
      expect(await io.config('SET', 'maxmemory-policy', 'allkeys-lru')).toBe('OK');
    } finally {
      io.disconnect();
    }
    await everyNode(PW, ['config', 'get', 'maxmemory-policy'], configReply('maxmemory-policy', 'allkeys-lru'), 'policy allkeys-lru');
    expect(await ask(leader, PW, 'config', 'set', 'maxmemory-policy', 'volatile-ttl')).toBe('+OK\r\n');
  });

  it('kill -9 the leader: the new leader requires the password and enforces maxmemory + policy set cluster-wide', async () => {
    const leader = await cluster.waitLeader();
    // One entry for both: atomic, and -OOM at once on the leader (its keys already exceed 1 byte).
    expect(await ask(leader, PW, 'config', 'set', 'maxmemory', '1', 'maxmemory-policy', 'noeviction')).toBe('+OK\r\n');
    expect(await ask(leader, PW, 'set', 'x', 'y')).toBe(OOM);
    await everyNode(PW, ['config', 'get', 'maxmemory'], configReply('maxmemory', '1'), 'maxmemory 1');
    await cluster.kill9(leader);
    const next = await cluster.waitLeader(30_000, cluster.running());
    expect(next).not.toBe(leader);
    expect(await ask(next, undefined, 'ping')).toBe(NOAUTH);
    expect(await ask(next, PW, 'set', 'x', 'y')).toBe(OOM);
    // allkeys-lru on the new leader: the write goes through and its keys are evicted down to 1 byte.
    expect(await ask(next, PW, 'config', 'set', 'maxmemory-policy', 'allkeys-lru')).toBe('+OK\r\n');
    expect(await ask(next, PW, 'set', 'x', 'y')).toBe('+OK\r\n');
    await waitFor(async () => (await ask(next, PW, 'dbsize')) === ':0\r\n', 20_000, 'every key evicted');
    expect(await ask(next, PW, 'config', 'set', 'maxmemory', '0', 'maxmemory-policy', 'noeviction')).toBe('+OK\r\n');
    await cluster.restart(leader);
  });

  it('restart every node (one with other flags): the password and limits from the log still hold', async () => {
    const flagged = cluster.nodes[0];
    await Promise.all(cluster.nodes.map((h) => cluster.kill9(h)));
    for (const h of cluster.nodes) {
      cluster.spawn(h, h === flagged ? { args: ['--requirepass', FLAG_PW, '--maxmemory', '5', '--maxmemory-policy', 'volatile-lru'] } : {});
    }
    // From its first connection on, a node serves under the committed settings, not its flags.
    const first = await Promise.all(
      cluster.nodes.map(async (h) => {
        let reply = '';
        await waitFor(
          async () => {
            try {
              reply = await ask(h, undefined, 'ping');
              return true;
            } catch {
              return false;
            }
          },
          30_000,
          `${h.id} to accept RESP connections`,
        );
        return reply;
      }),
    );
    expect(first).toEqual([NOAUTH, NOAUTH, NOAUTH]);
    await Promise.all(cluster.nodes.map((h) => cluster.waitHttp(h)));
    await cluster.waitLeader(30_000);
    expect(await ask(flagged, FLAG_PW, 'ping')).toBe(WRONGPASS);
    for (const h of cluster.nodes) {
      expect(await ask(h, PW, 'config', 'get', 'maxmemory')).toBe(configReply('maxmemory', '0'));
      expect(await ask(h, PW, 'config', 'get', 'maxmemory-policy')).toBe(configReply('maxmemory-policy', 'noeviction'));
    }
  });

  it('a node that was down catches up from a snapshot and has the password changed meanwhile', async () => {
    const leader = await cluster.waitLeader();
    const late = cluster.nodes.find((h) => h !== leader)!;
    await cluster.kill9(late);
    expect(await ask(leader, PW, 'config', 'set', 'requirepass', PW2)).toBe('+OK\r\n');
    cluster.httpToken = PW2;
    const configIndex = (await cluster.status(leader))!.commit;
    // Enough entries for snapshots (every 100) that compact the log past `late`'s position.
    const c = await RawConn.open(leader.port);
    try {
      expect((await c.call('auth', PW2)).toString()).toBe('+OK\r\n');
      for (let i = 0; i < 400; i++) c.send(`*3\r\n$3\r\nSET\r\n$${`key${i}`.length}\r\nkey${i}\r\n$1\r\nv\r\n`);
      expect((await c.read(400)).every((r) => r.toString() === '+OK\r\n')).toBe(true);
    } finally {
      c.close();
    }
    // Compacted past the CONFIG entry, which `late` never received: it must come in a snapshot.
    const compacted = async () => ((await cluster.status(leader))?.snapshot_index ?? 0) > configIndex + 10;
    await waitFor(compacted, 20_000, 'a snapshot on the leader past the CONFIG entry');
    // The Raft core's line for a snapshot from the leader (not for the node's own at start).
    const received = () => readFileSync(late.logFile, 'utf8').split(`${late.id} restored snapshot at`).length - 1;
    const receivedBefore = received();
    await cluster.restart(late);
    await waitFor(() => received() > receivedBefore, 30_000, `${late.id} to receive a snapshot`);
    await waitFor(async () => (await ask(late, PW2, 'ping')) === '+PONG\r\n', 20_000, `${late.id} to take the new password`);
    expect(await ask(late, undefined, 'ping')).toBe(NOAUTH);
    expect(await ask(late, PW, 'ping')).toBe(WRONGPASS);
  });

  it('a new member added through the admin API gets the settings with the snapshot it starts from', async () => {
    const leader = await cluster.waitLeader();
    const n4 = await cluster.allocate('n4');
    cluster.nodes.push(n4);
    cluster.spawn(n4, { join: true });
    await cluster.waitHttp(n4);
    const add = await fetch(cluster.url(leader, '/v1/cluster/members'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...cluster.authHeaders() },
      body: JSON.stringify({ id: 'n4', host: '127.0.0.1', port: n4.port, http_port: n4.httpPort }),
    });
    expect(add.status).toBe(202);
    // The log before the CONFIG entry is compacted away: only a snapshot can bring it.
    await waitFor(() => readFileSync(n4.logFile, 'utf8').includes('n4 restored snapshot at'), 30_000, 'n4 to install a snapshot');
    await waitFor(async () => (await ask(n4, PW2, 'ping')) === '+PONG\r\n', 20_000, 'n4 to take the password');
    expect(await ask(n4, undefined, 'ping')).toBe(NOAUTH);
    expect(await ask(n4, PW2, 'config', 'get', 'maxmemory-policy')).toBe(configReply('maxmemory-policy', 'noeviction'));
  });

  it('no password appears in any log line or in /metrics', async () => {
    const leader = await cluster.waitLeader();
    const metrics = await (await fetch(cluster.url(leader, '/metrics'), { headers: cluster.authHeaders() })).text();
    expect(metrics).toMatch(/raftkv_commands_total\{command="config\|set"\}/);
    for (const text of [metrics, ...cluster.nodes.map((h) => readFileSync(h.logFile, 'utf8'))]) {
      expect(text).toMatch(/\S/);
      for (const pw of [PW, PW2, 's3cret']) expect(text.includes(pw)).toBe(false);
    }
  });
});
