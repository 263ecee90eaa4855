/**
 * The follower proxy over real node processes (`--follower-proxy yes`): plain, non-cluster
 * clients pointed at a follower (redis-cli without -c, ioredis `new Redis(port)`, node-redis
 * `createClient`) get the leader's answers instead of MOVED; a pipeline mixing local and
 * forwarded commands is answered in request order; MULTI/EXEC and WATCH keep their meaning;
 * SUBSCRIBE on a follower hears PUBLISH sent to another follower; and the plain clients keep
 * working across a SIGKILL of the leader, only retrying the errors they see, with every
 * acknowledged write in the final state. Without the setting a follower still answers MOVED.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { clientOf, command, Probe, RssSampler, rawSocket, rssMiB, send } from '../support/hostile-clients.ts';
import { redisCli } from '../support/programs.ts';
import { encodeCommand, RawConn } from './support/resp-bytes.ts';

const cli = (port: number, args: string[]) => redisCli(['-p', String(port), ...args]);

async function followerOf(cluster: ClusterHarness): Promise<NodeHandle> {
  const leader = await cluster.waitLeader();
  return cluster.running().find((h) => h.id !== leader.id) as NodeHandle;
}

describe('follower-proxy yes', () => {
  const cluster = new ClusterHarness({ nodes: 3, extraArgs: ['--follower-proxy', 'yes'] });
  let follower: NodeHandle;
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    await cluster.start();
    follower = await followerOf(cluster);
  }, 60_000);

  afterAll(async () => {
    for (const c of closers) await c();
    await cluster.stop();
  });

  it('redis-cli without -c writes and reads through a follower', async () => {
    expect((await cli(follower.port, ['set', 'cli:k', 'v1'])).trim()).toBe('OK');
    expect((await cli(follower.port, ['get', 'cli:k'])).trim()).toBe('v1');
    expect((await cli(follower.port, ['incr', 'cli:n'])).trim()).toBe('1');
    expect((await cli(follower.port, ['incr', 'cli:n'])).trim()).toBe('2');
    // Still a replica: the proxy relays, it does not pretend to lead.
    expect(await cli(follower.port, ['info', 'replication'])).toMatch(/role:slave/);
  });

  it('answers a pipeline of local and forwarded commands in request order', async () => {
    const c = await RawConn.open(follower.port);
    closers.push(() => c.close());
    const cmds: string[][] = [];
    const want: string[] = [];
    for (let i = 1; i <= 40; i++) {
      cmds.push(['INCR', 'pipe:n'], ['PING'], ['GET', 'pipe:n'], ['ECHO', `e${i}`], ['SET', `pipe:k${i}`, `v${i}`], ['CLIENT', 'GETNAME']);
      want.push(`:${i}\r\n`, '+PONG\r\n', `$${String(i).length}\r\n${i}\r\n`, `$${String(i).length + 1}\r\ne${i}\r\n`, '+OK\r\n', '$-1\r\n');
    }
    // One write: the follower parses the whole pipeline in one go.
    c.send(Buffer.concat(cmds.map((a) => encodeCommand(a))));
    const got = (await c.read(want.length)).map((b) => b.toString('latin1'));
    expect(got).toEqual(want);
  });

  it('RESP3 (HELLO 3) replies are relayed in the client protocol', async () => {
    const c = await RawConn.open(follower.port);
    closers.push(() => c.close());
    await c.call('HELLO', '3');
    await c.call('SET', 'r3:k', 'v');
    expect((await c.call('GET', 'r3:missing')).toString()).toBe('_\r\n');
    expect((await c.call('GET', 'r3:k')).toString()).toBe('$1\r\nv\r\n');
  });

  it('MULTI/EXEC runs as one transaction on the leader; WATCH aborts it when another client wrote', async () => {
    const a = new Redis(follower.port, { lazyConnect: true });
    const b = new Redis(follower.port, { lazyConnect: true });
    await a.connect();
    await b.connect();
    closers.push(
      () => a.disconnect(),
      () => b.disconnect(),
    );
    expect(await a.multi().set('tx:k', '1').incr('tx:k').get('tx:k').exec()).toEqual([
      [null, 'OK'],
      [null, 2],
      [null, '2'],
    ]);
    // Another client writes the watched key between WATCH and EXEC: null, nothing applied.
    expect(await a.watch('tx:w')).toBe('OK');
    expect(await b.set('tx:w', 'theirs')).toBe('OK');
    expect(await a.multi().set('tx:w', 'mine').exec()).toBeNull();
    expect(await a.get('tx:w')).toBe('theirs');
    // Nobody writes it: EXEC goes through.
    expect(await a.watch('tx:w')).toBe('OK');
    expect(await a.multi().set('tx:w', 'mine').exec()).toEqual([[null, 'OK']]);
    expect(await b.get('tx:w')).toBe('mine');
  });

  it('refuses a forwarded transaction that would change connection state, and says so', async () => {
    const c = await RawConn.open(follower.port);
    closers.push(() => c.close());
    expect((await c.call('MULTI')).toString()).toBe('+OK\r\n');
    expect((await c.call('SET', 'tx:s', '1')).toString()).toBe('+QUEUED\r\n');
    expect((await c.call('SUBSCRIBE', 'tx:ch')).toString()).toBe('+QUEUED\r\n');
    expect((await c.call('EXEC')).toString()).toMatch(/^-EXECABORT .*SUBSCRIBE cannot run inside a transaction the follower proxy forwards/);
    // Nothing ran, and the connection is out of MULTI.
    expect((await c.call('EXISTS', 'tx:s')).toString()).toBe(':0\r\n');
  });

  it('SUBSCRIBE on a follower hears PUBLISH sent to another follower', async () => {
    const leader = await cluster.waitLeader();
    const other = cluster.running().find((h) => h.id !== leader.id && h.id !== follower.id) as NodeHandle;
    const sub = new Redis(follower.port);
    const pub = new Redis(other.port);
    closers.push(
      () => sub.disconnect(),
      () => pub.disconnect(),
    );
    const got: string[] = [];
    sub.on('message', (_ch: string, m: string) => got.push(m));
    await sub.subscribe('ps:ch');
    // PUBLISH answers the receivers on the node that ran it (the leader), as Redis Cluster does.
    expect(typeof (await pub.publish('ps:ch', 'm1'))).toBe('number');
    await pub.publish('ps:ch', 'm2');
    await waitFor(() => got.length === 2, 5000, 'two messages');
    expect(got).toEqual(['m1', 'm2']);
    sub.disconnect();
    pub.disconnect();
  });

  it('a client that pipelines forwarded GETs of 512 KiB and never reads costs the follower about the output mark', async () => {
    const pid = follower.proc?.pid as number;
    const admin = new Redis(follower.port);
    closers.push(() => admin.disconnect());
    const value = Buffer.alloc(512 * 1024, 0x61);
    expect(await admin.set('flood:big', value)).toBe('OK');
    const probe = new Probe(follower.port);
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = rssMiB(pid);
    const sampler = new RssSampler(pid);
    const s = await rawSocket(follower.port);
    s.pause();
    // 256 MiB of replies if they were all fetched from the leader at once.
    await send(s, Buffer.concat(Array.from({ length: 512 }, () => command('GET', 'flood:big'))));
    await waitFor(async () => Number((await clientOf(admin, s))?.oll) > 0, 10_000, 'replies waiting for the attacker');
    await new Promise((r) => setTimeout(r, 2000));
    const seen = await clientOf(admin, s);
    const peak = sampler.stop();
    await probe.stop();
    // Units stop once the client owes the output mark (1 MiB); the unit that crossed it brings
    // at most 4 MiB of replies, plus one reply (proxy/unit.ts, UNIT_REPLY_BYTES).
    expect(Number(seen?.omem)).toBeLessThanOrEqual(1024 * 1024 + 4 * 1024 * 1024 + value.length + 64);
    expect(peak - baseline, `RSS grew from ${baseline.toFixed(0)} to ${peak.toFixed(0)} MiB`).toBeLessThanOrEqual(64);
    expect(probe.failures).toEqual([]);
    expect(probe.worstMs, 'slowest probe round trip (ms)').toBeLessThan(1000);
    // Once it reads, it gets every reply, whole.
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    s.resume();
    const each = `$${value.length}\r\n`.length + value.length + 2;
    await waitFor(() => bytes >= 512 * each, 60_000, 'the 512 replies');
    expect(bytes).toBe(512 * each);
    s.destroy();
  }, 120_000);

  it('a stopped leader costs a forwarded write about one election, not the write timeout', async () => {
    const leader = await cluster.waitLeader();
    const others = cluster.running().filter((h) => h.id !== leader.id);
    const c = new Redis(follower.port);
    closers.push(() => c.disconnect());
    expect(await c.set('stop:k', 'before')).toBe('OK');
    leader.proc?.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      // Sent to the stopped leader, whose link stays up: answered once another leader is known.
      const first = await c.set('stop:k', 'during').then(
        (r) => String(r),
        (err: Error) => err.message,
      );
      const took = Date.now() - t0;
      expect(first).toMatch(/^(OK|ERR outcome unknown: .*|TRYAGAIN .*)$/);
      // The write timeout is 5 s and the peer pings 5 s: well under either.
      expect(took).toBeLessThan(4000);
      await cluster.waitLeader(15_000, others);
      expect(await c.set('stop:k', 'after')).toBe('OK');
      expect(await c.get('stop:k')).toBe('after');
    } finally {
      leader.proc?.kill('SIGCONT');
    }
  }, 60_000);

  it('ioredis and node-redis plain clients on a follower survive a SIGKILL of the leader', async () => {
    follower = await followerOf(cluster);
    const io = new Redis(follower.port);
    const nr = createClient({ socket: { port: follower.port, host: '127.0.0.1' } });
    nr.on('error', () => {});
    await nr.connect();
    closers.push(
      () => io.disconnect(),
      () => nr.destroy(),
    );
    type Client = {
      set(k: string, v: string): Promise<unknown>;
      incr(k: string): Promise<unknown>;
      tx(k: string, v: string, n: string): Promise<unknown>;
    };
    const clients: Record<string, Client> = {
      io: {
        set: (k, v) => io.set(k, v),
        incr: (k) => io.incr(k),
        tx: async (k, v, n) => {
          const r = await io.multi().set(k, v).incr(n).exec();
          if (r === null || r.some(([err]) => err)) throw new Error('transaction failed');
          return r;
        },
      },
      nr: {
        set: (k, v) => nr.set(k, v),
        incr: (k) => nr.incr(k),
        tx: (k, v, n) => nr.multi().set(k, v).incr(n).exec(),
      },
    };
    const acked = new Map<string, string>();
    const incrs = { acked: 0, tried: 0 };
    const txs = { acked: 0, tried: 0 };
    const errors: string[] = [];
    let killed = false;
    let afterKill = 0;
    let stop = false;
    const loops = Object.entries(clients).map(async ([name, c]) => {
      for (let i = 0; !stop; i++) {
        const key = `fo:${name}:${i}`;
        try {
          expect(await c.set(key, `v${i}`)).toBe('OK');
          acked.set(key, `v${i}`);
          incrs.tried++;
          await c.incr('fo:counter');
          incrs.acked++;
          txs.tried++;
          await c.tx(`${key}:tx`, `t${i}`, 'fo:txcounter');
          txs.acked++;
          acked.set(`${key}:tx`, `t${i}`);
          if (killed) afterKill++;
        } catch (err) {
          // The retry the issue allows: the errors the clients surface, then go on.
          errors.push(String((err as Error).message).slice(0, 60));
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
    await waitFor(() => acked.size >= 100, 30_000, '100 acknowledged writes');
    const leader = await cluster.waitLeader();
    expect(leader.id).not.toBe(follower.id);
    await cluster.kill9(leader);
    killed = true;
    await waitFor(() => afterKill >= 40, 60_000, '40 rounds acknowledged after the kill');
    stop = true;
    await Promise.all(loops);

    const kinds = new Map<string, number>();
    for (const e of errors) kinds.set(e.split(' ').slice(0, 3).join(' '), (kinds.get(e.split(' ').slice(0, 3).join(' ')) ?? 0) + 1);
    console.log(`failover through the proxy: ${acked.size} writes acknowledged, ${afterKill} rounds after the kill, errors: ${JSON.stringify([...kinds])}`);
    // Only TRYAGAIN, CLUSTERDOWN or "outcome unknown" surfaced, never MOVED.
    for (const e of errors) expect(e).toMatch(/TRYAGAIN|outcome unknown|transaction failed|CLUSTERDOWN/);
    expect(errors.join('\n')).not.toMatch(/MOVED/);
    const check = new Redis(follower.port);
    closers.push(() => check.disconnect());
    for (const [k, v] of acked) expect(await check.get(k), k).toBe(v);
    const counter = Number(await check.get('fo:counter'));
    expect(counter).toBeGreaterThanOrEqual(incrs.acked);
    expect(counter).toBeLessThanOrEqual(incrs.tried);
    const txCounter = Number(await check.get('fo:txcounter'));
    expect(txCounter).toBeGreaterThanOrEqual(txs.acked);
    expect(txCounter).toBeLessThanOrEqual(txs.tried);
  }, 120_000);

  it('the follower authenticates the client; the leader runs what it forwards for it', async () => {
    follower = await followerOf(cluster);
    const admin = new Redis(follower.port);
    closers.push(() => admin.disconnect());
    // CONFIG SET is replicated: forwarded, and every node then wants the password.
    expect(await admin.config('SET', 'requirepass', 'proxy-secret')).toBe('OK');
    cluster.httpToken = 'proxy-secret';
    const c = await RawConn.open(follower.port);
    closers.push(() => c.close());
    expect((await c.call('SET', 'auth:k', 'v')).toString()).toMatch(/^-NOAUTH /);
    expect((await c.call('AUTH', 'wrong')).toString()).toMatch(/^-WRONGPASS /);
    expect((await c.call('SET', 'auth:k', 'v')).toString()).toMatch(/^-NOAUTH /);
    expect((await c.call('AUTH', 'proxy-secret')).toString()).toBe('+OK\r\n');
    expect((await c.call('SET', 'auth:k', 'v')).toString()).toBe('+OK\r\n');
    expect((await c.call('GET', 'auth:k')).toString()).toBe('$1\r\nv\r\n');
    // Per-node parameters stay on the node that took them; mixing both kinds is refused.
    expect((await c.call('CONFIG', 'SET', 'timeout', '77')).toString()).toBe('+OK\r\n');
    expect((await c.call('CONFIG', 'GET', 'timeout')).toString()).toContain('77');
    const leader = await cluster.waitLeader();
    const onLeader = new Redis(leader.port, { password: 'proxy-secret' });
    closers.push(() => onLeader.disconnect());
    expect(await onLeader.config('GET', 'timeout')).toEqual(['timeout', '0']);
    expect((await c.call('CONFIG', 'SET', 'timeout', '1', 'maxmemory', '1000000')).toString()).toMatch(/^-ERR CONFIG SET of cluster-wide and per-node/);
  });
});

describe('follower-proxy no (the default)', () => {
  const cluster = new ClusterHarness({ nodes: 3 });
  let follower: NodeHandle;

  beforeAll(async () => {
    await cluster.start();
    follower = await followerOf(cluster);
  }, 60_000);

  afterAll(() => cluster.stop());

  it('a follower answers MOVED to the leader, as Redis Cluster does', async () => {
    const leader = await cluster.waitLeader();
    const out = await cli(follower.port, ['set', 'm:k', 'v']);
    expect(out.trim()).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${leader.port}$`));
    const io = new Redis(follower.port);
    try {
      await expect(io.get('m:k')).rejects.toThrow(/^MOVED /);
    } finally {
      io.disconnect();
    }
  });
});
