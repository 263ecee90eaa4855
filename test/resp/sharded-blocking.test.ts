/**
 * Blocking pops on a multi-group cluster (issue 14): three real Raft groups behind three RESP
 * servers (test/resp/support/sharded.ts). The keys of one blocking command must share a slot
 * (a waiter lives in its group's registry, and splits move slots one at a time): two slots of
 * one group are CROSSSLOT, as in Redis Cluster, while one hash tag blocks and is served; a key
 * of another group is MOVED there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { RawConn } from '../resp-node/support/resp-bytes.ts';
import { ShardedServers } from './support/sharded.ts';

let shards: ShardedServers;
const conns: RawConn[] = [];

beforeAll(async () => {
  shards = await ShardedServers.start(3);
}, 60_000);

afterAll(async () => {
  for (const c of conns) c.close();
  await shards?.stop();
});

async function raw(port: number): Promise<RawConn> {
  const c = await RawConn.open(port);
  conns.push(c);
  return c;
}

/** Two keys of group 1 in different slots. */
function twoSlotsOfGroup1(): [string, string] {
  const g1 = shards.nodes[0];
  const inG1 = (k: string) => g1.ranges.some((r) => keyHashSlot(k) >= r.start && keyHashSlot(k) <= r.end);
  const keys: string[] = [];
  for (let i = 0; keys.length < 2; i++) {
    const k = `bk:${i}`;
    if (inG1(k) && (keys.length === 0 || keyHashSlot(k) !== keyHashSlot(keys[0]))) keys.push(k);
  }
  return [keys[0], keys[1]];
}

describe('blocking pops on a multi-group node', () => {
  it('keys in two slots of one group are CROSSSLOT; one hash tag blocks and is served', async () => {
    const port = shards.groupOf(keyHashSlot(twoSlotsOfGroup1()[0])).member.port;
    const c = await raw(port);
    const [a, b] = twoSlotsOfGroup1();
    expect((await c.call('BLPOP', a, b, '0')).toString()).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    expect((await c.call('BLMPOP', '0', '2', a, b, 'LEFT')).toString()).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    // One slot: the waiter blocks on the group's leader and is served by a push.
    const [x, y] = ['{q}1', '{q}2'];
    const owner = shards.groupOf(keyHashSlot(x)).member.port;
    const waiter = await raw(owner);
    const pusher = await raw(owner);
    const got = waiter.call('BRPOP', x, y, '5');
    await new Promise((r) => setTimeout(r, 200));
    expect((await pusher.call('LPUSH', y, 'job')).toString()).toBe(':1\r\n');
    expect((await got).toString()).toBe('*2\r\n$4\r\n{q}2\r\n$3\r\njob\r\n');
  });

  it('a key of another group is MOVED to its leader', async () => {
    const key = '{q}1';
    const owner = shards.groupOf(keyHashSlot(key));
    const elsewhere = shards.nodes.find((n) => n !== owner)!;
    const c = await raw(elsewhere.member.port);
    expect((await c.call('BLPOP', key, '0')).toString()).toMatch(new RegExp(`^-MOVED ${keyHashSlot(key)} [^:]+:${owner.member.port}\\r\\n$`));
  });
});
