/**
 * The reshard nemesis's parts that run without a cluster: what it asks for (every change valid
 * against the map it read, or deliberately refused by the node), and how it hears the answer
 * (real HTTP: a follower's 307 followed with the same POST and body, a 409 counted as refused,
 * a silent node as unknown). The run itself (docs/chaos.md, "Sharded runs") needs root.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postChange, type ShardInfo, type ShardList } from '../cluster/shards.ts';
import { plan, ShardChanges } from '../nemesis/reshard.ts';
import { Random } from '../random.ts';

const members = ['n1', 'n2', 'n3', 'n4', 'n5'];

function shard(id: number, slots: [number, number][], voters: string[], hint: string): ShardInfo {
  return { id, role: id === 0 ? 'metadata' : 'data', slots, voters, learners: [], leader_hint: hint, leader: hint, local: true };
}

/** `redis-cli --cluster create`'s cut of three shards, on three of five nodes each. */
const map: ShardList = {
  epoch: 7,
  draining: [],
  shards: [
    shard(0, [], members, 'n1'),
    shard(1, [[0, 5460]], ['n1', 'n2', 'n3'], 'n1'),
    shard(2, [[5461, 10922]], ['n2', 'n3', 'n4'], 'n2'),
    shard(3, [[10923, 16383]], ['n3', 'n4', 'n5'], 'n3'),
  ],
};

describe('reshard: what it asks for', () => {
  it('asks only for changes the map allows: a split inside the last range, a move to a node lacking the shard, a leader among the voters', () => {
    const seen = { split: 0, 'move-replica': 0, 'transfer-leader': 0 };
    let hosted = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const p = plan({ rnd: new Random(seed), members, changes: new ShardChanges() }, map, 'n1');
      expect(p).toBeDefined();
      if (!p) continue;
      seen[p.kind]++;
      const s = p.shard;
      if (p.kind === 'split') {
        const [start, end] = s.slots.at(-1)!;
        const { slot } = p.body as { slot: number };
        // Both halves keep at least one slot.
        expect(slot).toBeGreaterThan(start);
        expect(slot).toBeLessThanOrEqual(end);
        expect(p.path).toBe(`/v1/shards/${s.id}/split`);
      } else if (p.kind === 'move-replica') {
        const { from, to } = p.body as { from: string; to: string };
        expect(s.voters).toContain(from);
        expect(s.voters).not.toContain(to);
        expect(members).toContain(to);
      } else {
        const { node } = p.body as { node: string };
        expect(s.voters).toContain(node);
        expect(node).not.toBe(s.leader_hint);
      }
      if (p.kind !== 'transfer-leader') {
        expect(s.role).toBe('data');
        if (s.voters.includes('n1')) hosted++;
      }
    }
    // Splits and moves 40% of the time each, leaders 20%; splits and moves mostly where the
    // metadata leader is.
    expect(seen.split).toBeGreaterThan(180);
    expect(seen['move-replica']).toBeGreaterThan(180);
    expect(seen['transfer-leader']).toBeGreaterThan(80);
    expect(hosted / (seen.split + seen['move-replica'])).toBeGreaterThan(0.7);
  });

  it('moves only leaders while a split or a move is in flight, and stops splitting at twelve data shards', async () => {
    const changes = new ShardChanges();
    let answer: (v: Awaited<ReturnType<typeof postChange>>) => void = () => {};
    changes.track(
      { kind: 'move-replica', shard: 1, detail: '', via: 'n1', start: 0 },
      new Promise((r) => {
        answer = r;
      }),
      () => {},
    );
    for (let seed = 1; seed <= 100; seed++) expect(plan({ rnd: new Random(seed), members, changes }, map, 'n1')?.kind).toBe('transfer-leader');
    const t0 = Date.now();
    expect(await changes.settle(200)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(changes.counts()).toEqual({ 'move-replica': { pending: 1 } });
    answer({ outcome: 'done', status: 200, message: '' });
    expect(await changes.settle(5000)).toBe(true);
    expect(changes.busy).toBe(false);
    expect(changes.counts()).toEqual({ 'move-replica': { done: 1 } });

    const many: ShardList = {
      epoch: 9,
      draining: [],
      shards: [shard(0, [], members, 'n1'), ...Array.from({ length: 12 }, (_, i) => shard(i + 1, [[i * 1000, i * 1000 + 999]], ['n1', 'n2', 'n3'], 'n1'))],
    };
    const kinds = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) kinds.add(plan({ rnd: new Random(seed), members, changes: new ShardChanges() }, many, 'n1')!.kind);
    expect([...kinds].sort()).toEqual(['move-replica', 'transfer-leader']);
  });
});

describe('reshard: how it hears the answer (real HTTP)', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      s.close();
    }
  });

  async function serve(handler: (req: IncomingMessage, body: string) => [number, Record<string, string>, string] | undefined): Promise<string> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const r = handler(req, body);
        if (!r) return; // Never answers.
        res.writeHead(r[0], r[1]).end(r[2]);
      });
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("follows a follower's 307 with the same POST and body, and counts the leader's 409 as refused", async () => {
    const seen: string[] = [];
    const leader = await serve((req, body) => {
      seen.push(`${req.method} ${req.url} ${body}`);
      return [
        409,
        { 'content-type': 'application/json' },
        JSON.stringify({ error: 'refused', message: 'group 1 owns no slot below 0: nothing would stay in it' }),
      ];
    });
    const follower = await serve((req) => [307, { location: `${leader}${req.url}` }, '{"error":"not_leader"}']);
    const r = await postChange(`${follower}/v1/shards/1/split`, { slot: 0 }, 5000);
    expect(seen).toEqual(['POST /v1/shards/1/split {"slot":0}']);
    expect(r).toEqual({ outcome: 'refused', status: 409, message: 'group 1 owns no slot below 0: nothing would stay in it' });
  });

  it('tells done, failed (a 503, a closed port) and unknown (no answer in time) apart', async () => {
    const ok = await serve(() => [200, { 'content-type': 'application/json' }, '{"ok":true,"epoch":8}']);
    expect((await postChange(`${ok}/v1/shards/1/transfer-leader`, { node: 'n2' }, 5000)).outcome).toBe('done');
    const noLeader = await serve(() => [503, { 'content-type': 'application/json' }, '{"error":"no_leader","message":"no leader elected"}']);
    expect(await postChange(`${noLeader}/x`, {}, 5000)).toEqual({ outcome: 'failed', status: 503, message: 'no leader elected' });
    const closed = await serve(() => [200, {}, '']);
    const s = servers.pop()!;
    s.close();
    await once(s, 'close');
    expect((await postChange(`${closed}/x`, {}, 5000)).outcome).toBe('failed');
    const silent = await serve(() => undefined);
    const t0 = Date.now();
    expect((await postChange(`${silent}/x`, {}, 300)).outcome).toBe('unknown');
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
