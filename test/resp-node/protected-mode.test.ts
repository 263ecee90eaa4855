/**
 * Protected mode on real node processes bound to 0.0.0.0, with clients that really are not on
 * loopback: they connect from (and to) this machine's own non-loopback address, so the node sees
 * that address as the peer while no packet leaves the machine. Three clusters: the default
 * (protected mode on, no password; with --metrics-public), three nodes whose peer links also
 * use that address; and single nodes with `--protected-mode no` and with `--requirepass`.
 * Also checks the one WARN line each logs at start, and that CONFIG SET requirepass lets remote
 * clients in (and removing it shuts them out again) from the next connection on.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_TEXTS } from '../../src/node/access.ts';
import { ClusterHarness, type NodeHandle, nonLoopbackAddress, waitFor } from '../support/cluster-harness.ts';
import { runProgram } from '../support/programs.ts';

const REMOTE = nonLoopbackAddress();
const DENIED_BYTES = `-DENIED ${ACCESS_TEXTS.DENIED}\r\n`;
const EVERYWHERE = ['--host', '0.0.0.0', '--http-host', '0.0.0.0'];

// Three nodes that reach each other at REMOTE: peer links are not behind protected mode.
const guarded = new ClusterHarness({ nodes: 3, peerHost: REMOTE, extraArgs: [...EVERYWHERE, '--metrics-public'] });
const open = new ClusterHarness({ nodes: 1, extraArgs: [...EVERYWHERE, '--protected-mode', 'no'] });
const locked = new ClusterHarness({ nodes: 1, extraArgs: [...EVERYWHERE, '--requirepass', 'pw'], httpToken: 'pw' });
const all = [guarded, open, locked];
let leader: NodeHandle;

beforeAll(async () => {
  if (!REMOTE) return;
  // One cluster after the other: five node processes starting at once on a loaded two-core
  // machine can take longer than the harness waits for one.
  for (const c of all) await c.start();
  [leader] = await Promise.all(all.map((c) => c.waitLeader()));
}, 90_000);

afterAll(async () => {
  await Promise.all(all.map((c) => c.stop()));
});

/**
 * A raw connection from REMOTE: sends `send`, then collects everything the node writes until
 * it closes the connection (or 5 s pass, or `until` says the reply is complete).
 */
function remoteRaw(port: number, send: string, until?: (got: string) => boolean): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: REMOTE, port, localAddress: REMOTE });
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data, closed: false });
    }, 5000);
    s.on('connect', () => s.write(send));
    s.on('data', (d) => {
      data += d.toString('latin1');
      if (until?.(data)) {
        clearTimeout(timer);
        s.destroy();
        resolve({ data, closed: false });
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      // A refused client's unread request may reset the connection after the reply arrived.
      if (err.code !== 'ECONNRESET') reject(err);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true });
    });
  });
}

/** The real redis-cli; resolves with its stdout whatever its exit code. */
/** redis-cli's stdout, whatever its exit code: the refusals under test are answers, not failures. */
async function redisCli(args: string[]): Promise<string> {
  return (await runProgram('redis-cli', args)).out;
}

async function remoteHttp(h: NodeHandle, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`http://${REMOTE}:${h.httpPort}${path}`, { headers, signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  try {
    return { status: r.status, body: JSON.parse(text) };
  } catch {
    return { status: r.status, body: text };
  }
}

function warningsIn(h: NodeHandle): string[] {
  return readFileSync(h.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .filter((l) => l.level === 40 && /non-loopback/.test(l.msg))
    .map((l) => l.msg);
}

/**
 * The WARN lines about exposure a node logged at start. The line is written right after
 * "node started", in the same turn; once that (or the expected count) is in the log, a pause
 * lets a second copy show up if there were one.
 */
async function exposureWarnings(h: NodeHandle, expected: number): Promise<string[]> {
  await waitFor(() => readFileSync(h.logFile, 'utf8').includes('"msg":"node started"'), 10_000, `${h.id} to log its start`);
  await waitFor(() => warningsIn(h).length >= expected, 10_000, `${h.id} to log ${expected} exposure warning(s)`);
  await new Promise((r) => setTimeout(r, 500));
  return warningsIn(h);
}

describe.skipIf(!REMOTE)(`protected mode, remote clients from ${REMOTE}`, () => {
  describe('on (the default), no password', () => {
    it('still lets peers at non-loopback addresses link: the nodes elect a leader and replicate', async () => {
      expect(await redisCli(['-h', '127.0.0.1', '-p', String(leader.port), 'set', 'k', 'replicated'])).toBe('OK\n');
      for (const h of guarded.nodes) expect((await guarded.get(h, 'k')).value, h.id).toBe('replicated');
      expect((await guarded.status(leader))?.voters).toHaveLength(3);
    });

    it('answers a remote RESP client with the exact -DENIED text and closes the connection', async () => {
      const h = guarded.nodes[0];
      const rejected = async () => Number(/rejected_connections:(\d+)/.exec(await redisCli(['-p', String(h.port), 'info', 'stats']))?.[1]);
      const before = await rejected();
      const r = await remoteRaw(h.port, '*1\r\n$4\r\nPING\r\n');
      expect(r.data).toBe(DENIED_BYTES);
      expect(r.closed).toBe(true);
      // Counted as Redis counts it (stat_rejected_conn).
      expect(await rejected()).toBe(before + 1);
      expect(DENIED_BYTES).toMatch(
        /^-DENIED RaftKV is running in protected mode because protected mode is enabled and no password is set for the default user\. /,
      );
      expect(await redisCli(['-h', REMOTE!, '-p', String(h.port), 'ping'])).toMatch(
        /^DENIED RaftKV is running in protected mode .*'--requirepass <password>'.*'--protected-mode no'/,
      );
    });

    it('drops a refused client that never closes its side within the grace period', async () => {
      const s = net.connect({ host: REMOTE, port: guarded.nodes[0].port, localAddress: REMOTE, allowHalfOpen: true });
      let data = '';
      s.on('data', (d) => {
        data += d.toString('latin1');
      });
      const ended = new Promise<void>((r) => s.once('end', () => r()));
      const failed = new Promise<string>((r) => s.once('error', (e: NodeJS.ErrnoException) => r(String(e.code))));
      await ended;
      expect(data).toBe(DENIED_BYTES);
      // The node half-closed; it drains what this client sends until the grace (1 s) runs out.
      // Then a write meets a closed socket, which answers with a reset; the next write fails.
      const started = Date.now();
      const writer = setInterval(() => s.write('*1\r\n$4\r\nPING\r\n'), 100);
      const outcome = await Promise.race([failed, new Promise<string>((r) => setTimeout(() => r('still open after 5 s'), 5000))]);
      clearInterval(writer);
      s.destroy();
      expect(outcome).toMatch(/^(ECONNRESET|EPIPE)$/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    });

    it('still serves loopback RESP clients', async () => {
      expect(await redisCli(['-h', '127.0.0.1', '-p', String(guarded.nodes[0].port), 'ping'])).toBe('PONG\n');
    });

    it('answers remote HTTP with 403 and the same advice, but keeps the probes (and /metrics, opened) open', async () => {
      const h = guarded.nodes[0];
      for (const path of ['/v1/cluster', '/v1/kv/a', '/openapi.json', '/no/such/route']) {
        expect(await remoteHttp(h, path), path).toEqual({ status: 403, body: { error: 'denied', message: ACCESS_TEXTS.DENIED } });
      }
      expect((await remoteHttp(h, '/healthz')).status).toBe(200);
      expect((await remoteHttp(h, '/readyz')).status).toBe(200);
      expect((await remoteHttp(h, '/metrics')).status).toBe(200);
      expect((await guarded.status(h))?.leader).toBe(leader.id);
    });

    it('logs exactly one WARN line at start saying what it refuses', async () => {
      const lines = await exposureWarnings(guarded.nodes[0], 1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^RESP on 0\.0\.0\.0:\d+ and HTTP on 0\.0\.0\.0:\d+ bound to a non-loopback address with no password: protected mode refuses/);
    });

    it('lets remote clients in from the next connection once CONFIG SET requirepass sets a password, and out once it is cleared', async () => {
      const h = leader;
      const admin = new Redis({ port: h.port, host: '127.0.0.1', maxRetriesPerRequest: 1, lazyConnect: true });
      await admin.connect();
      try {
        expect(await admin.config('SET', 'requirepass', 's3cret')).toBe('OK');
        const cli = ['-h', REMOTE!, '-p', String(h.port)];
        expect(await redisCli([...cli, 'ping'])).toMatch(/^NOAUTH Authentication required/);
        expect(await redisCli([...cli, '-a', 's3cret', '--no-auth-warning', 'ping'])).toBe('PONG\n');
        expect((await remoteHttp(h, '/v1/cluster')).status).toBe(401);
        expect((await remoteHttp(h, '/v1/cluster', { authorization: 'Bearer s3cret' })).status).toBe(200);
        await admin.auth('s3cret');
        expect(await admin.config('SET', 'requirepass', '')).toBe('OK');
        expect((await remoteRaw(h.port, '*1\r\n$4\r\nPING\r\n')).data).toBe(DENIED_BYTES);
        expect((await remoteHttp(h, '/v1/cluster')).status).toBe(403);
      } finally {
        admin.disconnect();
      }
    });
  });

  describe('off (--protected-mode no)', () => {
    it('serves remote RESP and HTTP clients without a password', async () => {
      const h = open.nodes[0];
      const r = await remoteRaw(h.port, '*1\r\n$4\r\nPING\r\n', (got) => got.endsWith('\r\n'));
      expect(r.data).toBe('+PONG\r\n');
      expect(await remoteHttp(h, '/v1/cluster')).toMatchObject({ status: 200, body: { id: h.id } });
    });

    it('logs exactly one WARN line at start saying it is open', async () => {
      const lines = await exposureWarnings(open.nodes[0], 1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/protected mode off: anyone who reaches it can read and write every key/);
    });
  });

  describe('with a password (--requirepass)', () => {
    it('serves remote clients that authenticate, and asks the others to', async () => {
      const h = locked.nodes[0];
      const cli = ['-h', REMOTE!, '-p', String(h.port)];
      expect(await redisCli([...cli, 'ping'])).toMatch(/^NOAUTH Authentication required/);
      expect(await redisCli([...cli, '-a', 'pw', '--no-auth-warning', 'ping'])).toBe('PONG\n');
      expect((await remoteHttp(h, '/v1/cluster')).status).toBe(401);
      expect((await remoteHttp(h, '/v1/cluster', { authorization: 'Bearer pw' })).status).toBe(200);
    });

    it('logs no exposure warning', async () => {
      expect(await exposureWarnings(locked.nodes[0], 0)).toEqual([]);
    });
  });
});
