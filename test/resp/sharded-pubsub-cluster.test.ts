/**
 * Sharded pub/sub on today's single group, over a live 3-node cluster of real processes with the
 * follower proxy on: SSUBSCRIBE works on every node (each hosts a replica of the one group),
 * SPUBLISH sent to a follower is forwarded to the leader, goes through the log, and every node
 * delivers it to its shard subscribers in log order, exactly as PUBLISH reaches SUBSCRIBE
 * subscribers. The two namespaces stay apart: PUBLISH of the same name reaches no shard
 * subscriber, and SPUBLISH no plain one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConn } from '../resp-node/support/resp-bytes.ts';
import { ClusterHarness, type NodeHandle } from '../support/cluster-harness.ts';

const cluster = new ClusterHarness({ nodes: 3, extraArgs: ['--follower-proxy', 'yes'] });
let leader: NodeHandle;
let followers: NodeHandle[];
const conns: RawConn[] = [];

beforeAll(async () => {
  await cluster.start();
  leader = await cluster.waitLeader();
  followers = cluster.nodes.filter((h) => h !== leader);
}, 60_000);

afterAll(async () => {
  for (const c of conns) c.close();
  await cluster.stop();
});

async function open(h: NodeHandle): Promise<RawConn> {
  const c = await RawConn.open(h.port);
  conns.push(c);
  return c;
}

const str = (b: Buffer) => b.toString('latin1');
const smessage = (ch: string, msg: string) => `*3\r\n$8\r\nsmessage\r\n$${ch.length}\r\n${ch}\r\n$${msg.length}\r\n${msg}\r\n`;

describe('sharded pub/sub with one group', () => {
  it('every node delivers SPUBLISH to its shard subscribers, in log order; PUBLISH and SPUBLISH stay apart', async () => {
    const subs = await Promise.all(cluster.nodes.map((h) => open(h)));
    for (const s of subs) expect(str(await s.call('ssubscribe', 'orders'))).toBe('*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n');
    const plain = await open(followers[1]);
    expect(str(await plain.call('subscribe', 'orders'))).toBe('*3\r\n$9\r\nsubscribe\r\n$6\r\norders\r\n:1\r\n');

    // Sent to a follower: forwarded to the leader, which counts its own shard subscriber.
    const pub = await open(followers[0]);
    expect(str(await pub.call('spublish', 'orders', 'm1'))).toBe(':1\r\n');
    expect(str(await pub.call('publish', 'orders', 'plain'))).toBe(':0\r\n');
    expect(str(await (await open(leader)).call('spublish', 'orders', 'm2'))).toBe(':1\r\n');
    for (const s of subs) {
      const got = (await s.read(2)).map(str);
      expect(got).toEqual([smessage('orders', 'm1'), smessage('orders', 'm2')]);
    }
    // The plain subscriber got only the plain message.
    expect((await plain.read(1)).map(str)).toEqual(['*3\r\n$7\r\nmessage\r\n$6\r\norders\r\n$5\r\nplain\r\n']);
    expect(str(await pub.call('pubsub', 'shardnumsub', 'orders'))).toBe('*2\r\n$6\r\norders\r\n:1\r\n');
  });
});
