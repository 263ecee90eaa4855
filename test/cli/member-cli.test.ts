/**
 * `raftkv member list|add|remove|promote` and `raftkv leader transfer` as an operator runs them
 * (`tsx src/cli/main.ts ...`), against a real cluster: list as a table and as JSON, add a
 * joining node, promote refused while it is behind and once it is a voter, transfer leadership
 * through a follower's endpoint, remove (the node then exits). Usage errors exit 2 and failures
 * exit 1, each with one line saying why; --help exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, freePort, type NodeHandle, waitFor } from '../support/cluster-harness.ts';
import { type CliRun, runRaftkv } from '../support/raftkv-cli.ts';

const raftkv = (...args: string[]) => runRaftkv(args);

/** The single line a failure prints (usage errors add the usage text after it). */
const firstLine = (r: CliRun) => r.stderr.split('\n')[0];

describe('help and usage errors', () => {
  it.each([
    [['member', '--help'], 0, /raftkv member list/],
    [['leader', '-h'], 0, /raftkv leader transfer/],
    [['member'], 2, /raftkv member: no subcommand/],
    [['member', 'frob'], 2, /unknown subcommand 'frob'/],
    [['member', 'add'], 2, /member add takes one ID=HOST:PORT/],
    [['member', 'add', 'n4'], 2, /'n4' is not id=host:port/],
    [['member', 'add', 'n4=127.0.0.1:99999'], 2, /port outside 1-65535/],
    [['member', 'remove'], 2, /member remove takes one member ID/],
    [['member', 'remove', 'bad id!'], 2, /is not a node id/],
    [['member', 'list', '-o', 'yaml'], 2, /-o must be table or json/],
    [['member', 'list', '--bogus'], 2, /Unknown option '--bogus'/],
    [['member', 'list', '--force'], 2, /--force goes with member add, remove or promote/],
    [['member', 'list', '--endpoints', 'ftp://x:1'], 2, /bad endpoint/],
    [['leader'], 2, /raftkv leader: no subcommand/],
    [['leader', 'transfer', 'a', 'b'], 2, /at most one ID/],
  ] as const)('raftkv %j exits %i', async (args, code, text) => {
    const r = await raftkv(...args);
    expect(r.code).toBe(code);
    expect(code === 0 ? r.stdout : firstLine(r)).toMatch(text);
    if (code !== 0) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('an endpoint where nothing listens is a failure (exit 1) naming it', async () => {
    const port = await freePort();
    const r = await raftkv('member', 'list', '--endpoints', `127.0.0.1:${port}`, '--timeout-ms', '2000');
    expect(r.code).toBe(1);
    expect(firstLine(r)).toMatch(new RegExp(`raftkv member: no endpoint answered .*127\\.0\\.0\\.1:${port}`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('against a real cluster', () => {
  let cluster: ClusterHarness;
  const ep = (h: NodeHandle) => ['--endpoints', `http://127.0.0.1:${h.httpPort}`];
  beforeAll(async () => {
    cluster = new ClusterHarness();
    await cluster.start();
  });
  afterAll(() => cluster.stop());

  it('lists, adds, promotes, transfers leadership and removes', async () => {
    let leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((h) => h.id !== leader.id)!;

    // list, from a follower's endpoint: the leader's view, leader first.
    const table = await raftkv('member', 'list', ...ep(follower));
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^ID\s+ROLE\s+LEADER\s+RESP\s+HTTP\s+TLS$/);
    expect(rows).toHaveLength(4);
    expect(rows[1]).toMatch(new RegExp(`^${leader.id}\\s+voter\\s+yes\\s+127\\.0\\.0\\.1:${leader.port}\\s+127\\.0\\.0\\.1:${leader.httpPort}\\s+-$`));
    const json = JSON.parse((await raftkv('member', 'list', '-o', 'json', ...ep(follower))).stdout);
    expect(json.cluster_id).toBe((await cluster.status(leader))!.cluster_id);
    expect(json.leader).toBe(leader.id);
    expect(json.members.map((m: { id: string; role: string }) => `${m.id}:${m.role}`).sort()).toEqual(['n1:voter', 'n2:voter', 'n3:voter']);

    // add, while n4 is not running yet: it stays a learner that has not caught up.
    const [n4] = await cluster.addNodes(1);
    const add = await raftkv('member', 'add', `n4=127.0.0.1:${n4.port}:${n4.httpPort}`, ...ep(follower));
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/added member n4 .* as a learner/);
    const again = await raftkv('member', 'add', `n4=127.0.0.1:${n4.port}:${n4.httpPort}`, ...ep(follower));
    expect(again.code).toBe(1);
    expect(firstLine(again)).toMatch(/member n4 already exists \(409 member_exists\)/);
    const behind = await raftkv('member', 'promote', 'n4', ...ep(follower));
    expect(behind.code).toBe(1);
    expect(firstLine(behind)).toMatch(/learner n4 has not caught up .*\(409 learner_not_ready\)/);
    const listed = JSON.parse((await raftkv('member', 'list', '-o', 'json', ...ep(leader))).stdout);
    expect(listed.members.find((m: { id: string }) => m.id === 'n4')).toMatchObject({ role: 'learner', leader: false, port: n4.port });

    // Started, it catches up and the leader promotes it; a second promote says it is no learner.
    cluster.spawn(n4, { join: true });
    await cluster.waitHttp(n4);
    await waitFor(async () => (await cluster.status(leader))!.voters.includes('n4'), 20_000, 'n4 to become a voter');
    const voter = await raftkv('member', 'promote', 'n4', ...ep(leader));
    expect(voter.code).toBe(1);
    expect(firstLine(voter)).toMatch(/member n4 is not a learner \(409 not_learner\)/);

    // leader transfer through a follower's endpoint (it redirects to the leader).
    const target = cluster.nodes.find((h) => h.id !== leader.id && h.id !== 'n4')!;
    const via = cluster.nodes.find((h) => h.id !== leader.id && h.id !== target.id)!;
    const moved = await raftkv('leader', 'transfer', target.id, ...ep(via));
    expect(moved.code).toBe(0);
    expect(moved.stdout.trim()).toBe(`leadership moved to ${target.id}`);
    leader = await cluster.waitLeader();
    expect(leader.id).toBe(target.id);
    // Without an id: to the most caught-up other voter.
    const anyone = await raftkv('leader', 'transfer', ...ep(leader));
    expect(anyone.code).toBe(0);
    const next = /^leadership moved to (\w+)$/.exec(anyone.stdout.trim())?.[1];
    expect(next).toBeDefined();
    expect(next).not.toBe(target.id);
    leader = await cluster.waitLeader();
    expect(leader.id).toBe(next);
    const nobody = await raftkv('leader', 'transfer', 'n9', ...ep(leader));
    expect(nobody.code).toBe(1);
    expect(firstLine(nobody)).toMatch(/unknown member n9 \(404 unknown_member\)/);

    // remove n4 (through any member): the command succeeds and n4, told it was removed, exits 0.
    const other = cluster.nodes.find((h) => h.id !== leader.id && h.id !== 'n4')!;
    const removed = await raftkv('member', 'remove', 'n4', ...ep(other));
    expect(removed.code).toBe(0);
    expect(removed.stdout.trim()).toBe('removed member n4');
    await waitFor(() => n4.exitCode !== undefined, 15_000, 'n4 to exit');
    expect(n4.exitCode).toBe(0);
    // (n4 may have been the leader the id-less transfer picked: ask a remaining member.)
    const rest = cluster.nodes.find((h) => h.id !== 'n4')!;
    const gone = await raftkv('member', 'remove', 'n4', ...ep(rest));
    expect(gone.code).toBe(1);
    expect(firstLine(gone)).toMatch(/unknown member n4 \(404 unknown_member\)/);
    const final = JSON.parse((await raftkv('member', 'list', '-o', 'json', ...ep(rest))).stdout);
    expect(final.members.map((m: { id: string }) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
  });
});
