/**
 * `raftkv status` and `/v1/cluster` over a real 3-node cluster (real processes, sockets and
 * LevelDB): every member's own numbers in one table, and a killed member marked unreachable,
 * never shown with the role it had. The CLI runs as a process, as an operator runs it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatusReport } from '../../src/cli/status.ts';
import { ClusterHarness, freePort, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { runRaftkv } from '../support/raftkv-cli.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const raftkv = (args: string[]) => runRaftkv(args);

interface MemberView {
  id: string;
  role: string;
  voter: boolean;
  last_contact_ms: number | null;
}

describe('raftkv status and /v1/cluster', () => {
  // Settings with units, as an operator writes them (the 500 ms election timeout is the harness's 10 ticks of 50 ms).
  const cluster = new ClusterHarness({ nodes: 3, extraArgs: ['--maxmemory', '100mb', '--election-timeout', '500ms', '--request-timeout-ms', '5s'] });
  let leader: NodeHandle;

  beforeAll(async () => {
    await cluster.start();
    leader = await cluster.waitLeader();
    expect((await cluster.put(leader, 'k', 'v')).status).toBe(200);
  }, 60_000);
  afterAll(() => cluster.stop());

  const endpoint = (h: NodeHandle) => `http://127.0.0.1:${h.httpPort}`;
  const view = async (h: NodeHandle) =>
    (await (await cluster.fetch(cluster.url(h, '/v1/cluster'))).json()) as { members: MemberView[]; version: string; disk_bytes: number; cluster_id: string };

  it("one table of every member, from one endpoint (a follower), each row the member's own numbers", async () => {
    const follower = cluster.nodes.find((h) => h.id !== leader.id) as NodeHandle;
    const r = await raftkv(['status', '--endpoints', endpoint(follower), '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ClusterStatusReport;
    expect(report.leader).toBe(leader.id);
    expect(report.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const m of report.members) {
      expect(m.reachable).toBe(true);
      expect(m.role).toBe(m.id === leader.id ? 'leader' : 'follower');
      expect(m.endpoint).toBe(endpoint(cluster.node(m.id)));
      expect(m.version).toBe(VERSION);
      expect(m.cluster_id).toBeTruthy();
      expect(m.disk_bytes).toBeGreaterThan(0);
      expect(m.commit).toBeGreaterThan(0);
      expect(m.lag).toBeGreaterThanOrEqual(0);
      expect(m.last_contact_ms).not.toBeNull();
    }
    const table = await raftkv(['status', '--endpoints', endpoint(leader)]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /\| ID +\| ENDPOINT +\| ROLE +\| TERM +\| COMMIT +\| APPLIED +\| LAG +\| LAST CONTACT +\| DISK +\| SNAPSHOT +\| VERSION +\| CLUSTER ID +\|/,
    );
    for (const h of cluster.nodes) expect(table.stdout).toContain(`| ${h.id} `);
  }, 60_000);

  it('nodes started with unit-bearing flags run with those values (CONFIG GET, /v1/cluster)', async () => {
    const reply = execFileSync('redis-cli', ['-p', String(leader.port), 'CONFIG', 'GET', 'maxmemory'], { encoding: 'utf8' });
    expect(reply.trim().split('\n')).toEqual(['maxmemory', String(100 * 1024 * 1024)]);
    const v = (await (await cluster.fetch(cluster.url(leader, '/v1/cluster'))).json()) as { election_timeout_ms: number };
    expect(v.election_timeout_ms).toBe(500);
  });

  it('a killed member: the leader says unreachable, a follower says unknown, status marks it and the others stay right', async () => {
    const [victim, survivor] = cluster.nodes.filter((h) => h.id !== leader.id);
    await cluster.kill9(victim);
    // The leader's /v1/cluster stops calling it a follower once an election timeout (500 ms here) passes.
    await waitFor(async () => (await view(leader)).members.find((m) => m.id === victim.id)?.role === 'unreachable', 10_000, 'the leader to mark it');
    const fromLeader = await view(leader);
    expect(fromLeader.members.find((m) => m.id === victim.id)).toMatchObject({ role: 'unreachable', voter: true });
    expect(fromLeader.members.find((m) => m.id === survivor.id)?.role).toBe('follower');
    // A follower hears only the leader: it does not guess the others' roles.
    const fromFollower = await view(survivor);
    expect(fromFollower.members.find((m) => m.id === victim.id)).toMatchObject({ role: 'unknown', voter: true });
    expect(fromFollower.members.find((m) => m.id === leader.id)?.role).toBe('leader');
    expect(fromFollower.members.find((m) => m.id === survivor.id)?.role).toBe('follower');

    const r = await raftkv(['status', '--endpoints', endpoint(survivor), '-o', 'json', '--timeout-ms', '3000']);
    expect(r.code, 'exit 1: a member is unreachable').toBe(1);
    const report = JSON.parse(r.stdout) as ClusterStatusReport;
    const dead = report.members.find((m) => m.id === victim.id);
    expect(dead).toMatchObject({ reachable: false, role: 'unreachable', term: null, commit: null, applied: null, version: null });
    expect(dead?.error).toMatch(/ECONNREFUSED/);
    expect(dead?.last_contact_ms).toBeGreaterThan(500);
    for (const m of report.members.filter((x) => x.id !== victim.id)) {
      expect(m).toMatchObject({ reachable: true, role: m.id === leader.id ? 'leader' : 'follower', version: VERSION });
    }
    const table = await raftkv(['status', '--endpoints', endpoint(leader), '--timeout-ms', '3000']);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(new RegExp(`\\| ${victim.id} +\\| \\S+ +\\| unreachable +\\| - +\\| - `));
    expect(table.stdout).toContain(`${victim.id} unreachable at ${endpoint(victim)}: `);
  }, 60_000);

  it('no endpoint answering is one line and exit 1; a bad flag value is exit 2', async () => {
    const r = await raftkv(['status', '--endpoints', `http://127.0.0.1:${await freePort()}`, '--timeout-ms', '2000']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('raftkv status: no endpoint answered');
    const bad = await raftkv(['status', '-o', 'yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("raftkv status: -o must be table or json, got 'yaml'");
  }, 30_000);
});
