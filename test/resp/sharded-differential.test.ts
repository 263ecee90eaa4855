/**
 * Sharded replies compared byte for byte with a real Redis Cluster node (redis-server 7.0 with
 * `cluster-enabled yes`, every slot assigned with CLUSTER ADDSLOTSRANGE). Ours is a real node
 * (LevelDB, Raft) whose view splits the slots between two groups it both leads (0-8191 and
 * 8192-16383), so a transaction can reach EXEC with keys of two groups: where Redis's rule is
 * "different slots" ours is "different groups", and the scripts use keys that are in different
 * slots and different groups ("a" is slot 15495, "b" slot 3300), or the same slot, so both rules
 * must answer alike. Sharded pub/sub follows Redis's per-slot rule exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/node/config.ts';
import { createLogger } from '../../src/node/logger.ts';
import type { Member } from '../../src/node/members.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { LayoutView } from '../../src/resp/cluster/layout-view.ts';
import { startRespServer } from '../../src/resp/node-dispatcher.ts';
import type { RespServer } from '../../src/resp/server.ts';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { RawConn } from '../resp-node/support/resp-bytes.ts';
import { c, normalized, pending, runScript, type Step, unordered } from '../resp-node/support/script.ts';
import { freePort, waitFor } from '../support/cluster-harness.ts';
import { RedisServer } from '../support/redis-server.ts';

let redis: RedisServer;
let node: RaftNode;
let server: RespServer;
let port = 0;
const dir = mkdtempSync(join(tmpdir(), 'raftkv-sharded-diff-'));

beforeAll(async () => {
  redis = await RedisServer.start(['--cluster-enabled', 'yes']);
  const admin = await RawConn.open(redis.port);
  expect((await admin.call('cluster', 'addslotsrange', '0', '16383')).toString()).toBe('+OK\r\n');
  await waitFor(async () => (await admin.call('cluster', 'info')).toString().includes('cluster_state:ok'), 10_000, 'redis cluster ok');
  admin.close();

  const self: Member = { id: 'n1', host: '127.0.0.1', port: await freePort(), httpPort: await freePort() };
  const cfg = resolveConfig({ 'data-dir': dir, port: String(self.port), 'http-port': String(self.httpPort), 'tick-ms': '10' }, {});
  node = await RaftNode.open(cfg, createLogger('silent', 'n1', false));
  const half = (group: number, start: number, end: number) => ({
    group,
    ranges: [{ start, end }],
    replicas: [self],
    leader: 'n1',
    configEpoch: 1,
    local: node,
  });
  const view = new LayoutView({ self: 'n1', epoch: 1, groups: [half(1, 0, 8191), half(2, 8192, 16383)] });
  server = await startRespServer(node, { view });
  node.start();
  await waitFor(() => node.isLeader(), 10_000, 'the node to lead');
  port = server.address().port;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await node?.shutdown();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Both servers start each script empty. */
async function run(steps: Step[]): Promise<void> {
  expect(await runScript(port, redis.port, [c('flushall'), ...steps])).toEqual([]);
}

const hello = normalized((s) => s.replace(/(\$2\r\nid\r\n):\d+/, '$1ID'));

describe('the keys the scripts use', () => {
  it('are in the slots and groups the header says', () => {
    expect([keyHashSlot('a'), keyHashSlot('b'), keyHashSlot('{x}a') === keyHashSlot('{x}b')]).toEqual([15495, 3300, true]);
  });
});

describe('against a Redis Cluster node', () => {
  it('MULTI/EXEC across groups: CROSSSLOT at EXEC, the transaction dropped; a CROSSSLOT command dooms it', async () => {
    await run([
      c('multi'),
      c('set a 1'),
      c('set b 1'),
      c('exec'),
      c('exec'),
      c('get a'),
      c('multi'),
      c('mset a 1 b 2'),
      c('exec'),
      c('mget a b'),
      c('del a b'),
      c('multi'),
      c('set {x}a 1'),
      c('get {x}b'),
      c('exec'),
      c('multi'),
      c('spublish a m'),
      c('spublish b m'),
      c('exec'),
      c('multi'),
      c('spublish a m'),
      c('spublish {a}x m'),
      c('exec'),
      c('multi'),
      c('ssubscribe a'),
      c('exec'),
      c('multi'),
      c('exec'),
      c('multi'),
      c('ping'),
      c('exec'),
    ]);
  });

  it('SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH and PUBSUB SHARD*: replies, counts, subscribe mode, CROSSSLOT per slot', async () => {
    await run([
      c('ssubscribe a {a}x', { on: 1, replies: 2 }),
      c('ping', { on: 1 }),
      c('get a', { on: 1 }),
      c('subscribe c', { on: 1 }),
      c('ssubscribe a b', { on: 2 }),
      c('sunsubscribe a b', { on: 2 }),
      c('pubsub shardchannels', { compare: unordered }),
      c('pubsub shardchannels {*'),
      c('pubsub shardnumsub a b {a}x'),
      c('pubsub shardnumsub'),
      c('pubsub channels'),
      c('pubsub numsub a c'),
      c('spublish a hello'),
      pending(1),
      c('publish a plain'),
      // A plain channel that looks like the log's shard marker stays a plain channel.
      c(['subscribe', '\0Sa'], { on: 5 }),
      c(['publish', '\0Sa', 'sneaky']),
      pending(5),
      c(['spublish', '\0Sa', 'x']),
      c('publish c plain'),
      pending(1),
      c('spublish c none'),
      // Redis lists a connection's channels in hash-table order: name them, or keep one.
      c('sunsubscribe {a}x a', { on: 1, replies: 2 }),
      c('sunsubscribe', { on: 1 }),
      c('ssubscribe a', { on: 1 }),
      c('sunsubscribe', { on: 1 }),
      c('ssubscribe a', { on: 1 }),
      c('sunsubscribe a', { on: 1 }),
      c('unsubscribe', { on: 1 }),
      c('get a', { on: 1 }),
      c('spublish a'),
      c('spublish a b c'),
      c('ssubscribe'),
      c('pubsub shardchannels a b'),
      // RESP3: confirmations and messages are pushes, and other commands still run.
      c('hello 3', { on: 3, compare: hello }),
      c('ssubscribe a {a}x', { on: 3, replies: 2 }),
      c('spublish a hi'),
      pending(3),
      c('get nokey', { on: 3 }),
      c('sunsubscribe {a}x', { on: 3 }),
      c('sunsubscribe', { on: 3 }),
      c('sunsubscribe', { on: 3 }),
      // RESET leaves subscribe mode and drops shard subscriptions too.
      c('ssubscribe z', { on: 4 }),
      c('reset', { on: 4 }),
      c('pubsub shardnumsub z'),
      c('get nokey', { on: 4 }),
    ]);
  });

  it('CLUSTER KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT, errors included', async () => {
    await run([
      c('set a 1'),
      c('set {a}b 2'),
      c('cluster keyslot a'),
      c('cluster countkeysinslot 15495'),
      c('cluster countkeysinslot 0'),
      c('cluster countkeysinslot 16384'),
      c('cluster countkeysinslot -1'),
      c('cluster countkeysinslot x'),
      c('cluster countkeysinslot 1 2'),
      c('cluster getkeysinslot 15495 5', { compare: unordered }),
      c('cluster getkeysinslot 15495 0'),
      c('cluster getkeysinslot 15495 -1'),
      c('cluster getkeysinslot 16384 1'),
      c('cluster getkeysinslot x 1'),
      c('cluster getkeysinslot 1 x'),
      c('cluster getkeysinslot 1'),
      c('del a {a}b'),
      c('cluster countkeysinslot 15495'),
    ]);
  });
});

describe('where the group rule differs from the slot rule, on purpose', () => {
  it('keys of one group in different slots run together; a WATCH in another group is CROSSSLOT at EXEC', async () => {
    const conn = await RawConn.open(port);
    const str = async (...a: string[]) => (await conn.call(...a)).toString();
    // "b" (3300) and "c" (7365) are both in group 1: Redis Cluster would answer CROSSSLOT.
    expect(keyHashSlot('c')).toBe(7365);
    expect(await str('mset', 'b', '1', 'c', '2')).toBe('+OK\r\n');
    expect(await str('mget', 'b', 'c')).toBe('*2\r\n$1\r\n1\r\n$1\r\n2\r\n');
    // Redis runs this EXEC (the WATCH is on the same node); here the WATCHed version lives in
    // group 2 and the write in group 1, so it cannot be checked where it applies.
    expect(await str('watch', 'a')).toBe('+OK\r\n');
    expect(await str('multi')).toBe('+OK\r\n');
    expect(await str('set', 'b', '3')).toBe('+QUEUED\r\n');
    expect(await str('exec')).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    expect(await str('get', 'b')).toBe('$1\r\n1\r\n');
    conn.close();
  });
});
