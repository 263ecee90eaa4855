/**
 * Peer identity on real node processes: a party that knows the cluster secret but is not a
 * member is refused before any of its messages reach Raft (the forged heartbeat and App of
 * issue 10), raw connections announcing huge frames before the handshake cost a node no
 * memory, `raftkv cluster` makes and keeps a secret, and `raftkv start` refuses to leave
 * loopback without one.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NODE_FLAGS, nodeEnv } from '../../src/cli/runtime.ts';
import { encodeEntry } from '../../src/kv/index.ts';
import { EntryType, type Message, MessageType } from '../../src/raft/types.ts';
import { encodeBatch, messageSize } from '../../src/transport/codec.ts';
import { CloseCode } from '../../src/transport/index.ts';
import { ClusterHarness, type ClusterStatus, freeBasePort, freePort, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { raftkvArgs } from '../support/raftkv-build.ts';
import { rawClient } from '../transport/harness.ts';

const MiB = 1024 * 1024;

const peerUrl = (h: NodeHandle) => `ws://127.0.0.1:${h.httpPort}/raft/v1`;

function vmRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

describe('a running cluster and parties that are not members', () => {
  let cluster: ClusterHarness;
  beforeAll(async () => {
    cluster = new ClusterHarness();
    await cluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A forger that knows the secret and the cluster id, under a node id that is not a member. */
  async function forge(target: NodeHandle, frames: (st: ClusterStatus) => Message[]): Promise<number> {
    const st = (await cluster.status(target))!;
    const c = await rawClient(peerUrl(target));
    await c.authenticate('evil', { clusterId: st.cluster_id ?? '', secret: cluster.secret });
    // Were it welcomed, this is what it would deliver.
    const ms = frames(st);
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(encodeBatch(ms, ms.map(messageSize)));
    const outcome = await Promise.race([c.closed, sleep(2000).then(() => ({ code: -1 }))]);
    c.ws.terminate();
    return outcome.code; // -1: still open, i.e. accepted as a peer
  }

  it('refuses a forged heartbeat and a forged App from a non-member id: the term does not move, nothing commits', async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((h) => h.id !== leader.id)!;
    const before = (await cluster.status(leader))!;
    const base = { logTerm: 0, index: 0, commit: 0, entries: [], reject: false, rejectHint: 0 };

    // Issue 10: a heartbeat five terms ahead deposed the leader (term 4 -> 9, CLUSTERDOWN).
    const heartbeat = await forge(leader, (st) => [{ ...base, type: MessageType.Heartbeat, from: 'evil', to: leader.id, term: st.term + 5 }]);
    // Issue 10: an App in the current term made a follower commit a SET no client sent.
    const data = encodeEntry({ ts: Date.now(), ops: [{ type: 'set', key: Buffer.from('forged'), value: Buffer.from('yes') }] });
    const app = await forge(follower, (st) => [
      {
        ...base,
        type: MessageType.App,
        from: 'evil',
        to: follower.id,
        term: st.term,
        logTerm: st.term,
        index: st.last_index,
        commit: st.last_index + 1,
        entries: [{ term: st.term, index: st.last_index + 1, type: EntryType.Normal, data }],
      },
    ]);
    await sleep(1000); // several election timeouts
    const after = (await cluster.status(leader))!;
    expect({ role: after.role, term: after.term }).toEqual({ role: 'leader', term: before.term });
    expect((await cluster.get(leader, 'forged')).status).toBe(404);
    expect((await cluster.status(follower))!.last_index).toBe(before.last_index);
    expect([heartbeat, app]).toEqual([CloseCode.UnknownPeer, CloseCode.UnknownPeer]);
    // The refusal is logged once per claimed id, however often it dials.
    await forge(leader, () => []);
    const log = readFileSync(leader.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"code":4003'));
    expect(log.filter((l) => l.includes('"level":40')).length).toBe(1);
  });

  it('40 raw connections sending a 30 MiB frame before the handshake grow RSS by under 64 MiB; the node keeps serving', async () => {
    const leader = await cluster.waitLeader();
    const victim = cluster.nodes.find((h) => h.id !== leader.id)!;
    const pid = victim.proc!.pid!;
    const base = vmRssMiB(pid);
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, vmRssMiB(pid));
    }, 20);
    const frame = Buffer.alloc(30 * MiB, 0x42);
    let outcomes: (number | 'refused' | 'timeout')[] = [];
    try {
      outcomes = await Promise.all(
        Array.from(
          { length: 40 },
          (_, i) =>
            new Promise<number | 'refused' | 'timeout'>((resolve) => {
              // Ten source addresses, so the per-address cap alone does not stop them.
              const ws = new WebSocket(peerUrl(victim), { perMessageDeflate: false, localAddress: `127.0.0.${10 + (i % 10)}` });
              ws.on('unexpected-response', (_req, res) => {
                resolve('refused');
                res.resume();
                ws.terminate();
              });
              ws.on('open', () => ws.send(frame, () => {}));
              // 1009 when the close frame makes it before the node cuts the connection, else 1006.
              ws.on('close', (code) => resolve(code));
              ws.on('error', () => {});
              setTimeout(() => resolve('timeout'), 10_000).unref();
            }),
        ),
      );
      await sleep(500);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, vmRssMiB(pid));
    const count = (o: number | string) => outcomes.filter((x) => x === o).length;
    const closed = outcomes.filter((x) => typeof x === 'number').length;
    console.log(
      `RSS of ${victim.id}: ${base.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB; ${closed} closed by the node (${count(CloseCode.MessageTooBig)} with 1009), ${count('refused')} refused 503`,
    );
    expect(peak - base).toBeLessThan(64);
    // Every connection was refused at the upgrade or cut by the node, none left hanging.
    expect(count('timeout')).toBe(0);
    expect(count('refused') + closed).toBe(40);
    expect(readFileSync(victim.logFile, 'utf8')).toContain('Max payload size exceeded');
    // Still a member in good standing, still serving.
    expect(victim.exitCode).toBeUndefined();
    expect((await cluster.put(leader, 'after-flood', 'ok')).status).toBe(200);
    await waitFor(async () => (await cluster.get(victim, 'after-flood')).value === 'ok', 5000, 'the victim to serve the write');
    expect((await cluster.waitLeader()).id).toBe(leader.id);
  }, 60_000);
});

describe('raftkv cluster (npm start)', () => {
  let proc: ChildProcess | undefined;
  const root = mkdtempSync(join(tmpdir(), 'raftkv-local-'));
  afterEach(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function startLocal(base: number): Promise<void> {
    proc = spawn(
      process.execPath,
      [...NODE_FLAGS, ...raftkvArgs(), 'cluster', '--nodes', '3', '--base-port', String(base), '--data-dir', join(root, 'data'), '--log-level', 'warn'],
      { stdio: 'ignore', env: nodeEnv(process.env) },
    );
    // Wait for a leader every node agrees on, and a write through it.
    const http = [0, 1, 2].map((i) => `http://127.0.0.1:${base + 10000 + i}`);
    let leader = '';
    await waitFor(
      async () => {
        const sts = await Promise.all(http.map(async (u) => (await fetch(`${u}/v1/cluster`)).json() as Promise<ClusterStatus>));
        leader = sts[0].leader ?? '';
        return sts.every((s) => s.leader && s.leader === leader);
      },
      30_000,
      'the local cluster to elect a leader',
    );
    const put = await fetch(`${http[Number(leader.slice(1)) - 1]}/v1/kv/hello`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'world' }),
    });
    expect(put.status).toBe(200);
  }

  /** The command lines of every process we can see. */
  function allCommandLines(): string {
    const out: string[] = [];
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        // gone, or not ours to read
      }
    }
    return out.join('\n');
  }

  async function stopLocal(): Promise<void> {
    const exited = new Promise<number | null>((r) => proc!.once('exit', (code) => r(code)));
    proc!.kill('SIGINT');
    expect(await exited).toBe(0);
  }

  it('makes a 0600 secret file on first start, reuses it on restart, and the cluster works', async () => {
    const base = await freeBasePort([0, 1, 2, 10000, 10001, 10002]);
    await startLocal(base);
    const file = join(root, 'data', 'cluster-secret');
    const secret = readFileSync(file, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await stopLocal();
    await startLocal(base);
    expect(readFileSync(file, 'utf8').trim()).toBe(secret);
    // No node was given the secret on its command line, which every user can read.
    const cmdlines = allCommandLines();
    expect(cmdlines).toContain('--cluster-secret-file');
    expect(cmdlines).not.toContain(secret);
    await stopLocal();
  }, 120_000);
});

describe('raftkv start without a secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-nosecret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function start(args: string[], env: NodeJS.ProcessEnv = {}) {
    const port = await freePort();
    const r = spawnSync(process.execPath, [...raftkvArgs(), 'start', '--port', String(port), '--data-dir', join(dir, 'd'), ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, ...env },
    });
    return { status: r.status, stderr: r.stderr };
  }

  it('exits 2 naming cluster-secret when a peer address is not loopback', async () => {
    const off = await start(['--peers', 'n1=127.0.0.1:7001:17001,n2=10.9.8.7:7002:17002']);
    expect(off.status).toBe(2);
    expect(off.stderr).toMatch(/invalid setting 'cluster-secret': peer links use 10\.9\.8\.7, which is not loopback/);
  }, 60_000);

  it('exits 2 naming cluster-secret when the flag is given empty', async () => {
    const empty = await start(['--cluster-secret=']);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/invalid setting 'cluster-secret': is empty/);
  }, 60_000);
});
