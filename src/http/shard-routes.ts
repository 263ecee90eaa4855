/**
 * /v1/shards (issue 13): the slot map of a sharded cluster, and the operator's changes to it.
 * Served by every node of a multi-group node's cluster; a change runs on the metadata group's
 * leader (a follower answers 307 there, as writes do), validated against the map it applied
 * before it is proposed (src/node/store/map-record.ts), so a refused change costs nothing.
 *
 *  GET  /v1/shards                          every group: slots, voters, learners, leader hint,
 *                                           and its leader as this node knows it
 *  POST /v1/shards/:id/transfer-leader      { node }: make `node` the group's hinted leader;
 *                                           the leader spread duty hands leadership over
 *  POST /v1/shards/:id/split                { slot }: the shard's slots from `slot` up become a
 *                                           new shard on the same replicas (one entry in the
 *                                           shard's log; no key is copied between nodes)
 *  POST /v1/shards/:id/move-replica         { from, to }: learner on `to`, snapshot catch-up,
 *                                           promote, remove `from`; answers once it is done
 */
import type { FastifyInstance } from 'fastify';
import { NotLeaderError } from '../node/errors.ts';
import type { RaftNode } from '../node/raft-node.ts';
import { changeMap, MapChangeError } from '../node/store/map-record.ts';
import { type GroupId, METADATA_GROUP, rangesOf, type SlotMap } from '../shard/index.ts';
import { HttpError } from './errors.ts';

/** What the routes read from the store. */
export interface ShardRoutesHost {
  readonly map: SlotMap | undefined;
  readonly groups: ReadonlyMap<number, RaftNode>;
  readonly metadata: RaftNode;
  /** Runs one change at a time on this node (store.ts, changes.ts). */
  split(group: GroupId, slot: number): Promise<{ map: SlotMap; newGroup: GroupId }>;
  moveReplica(group: GroupId, from: string, to: string): Promise<SlotMap>;
  /** The nodes being drained (drain.ts). */
  draining(): string[];
  setDraining(node: string, on: boolean): Promise<string[]>;
}

const idParams = { type: 'object', properties: { id: { type: 'integer', minimum: 0, maximum: 0xffffffff } }, required: ['id'] } as const;
const nodeId = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } as const;

export function shardList(map: SlotMap, groups: ReadonlyMap<number, RaftNode>, draining: string[] = []) {
  return {
    epoch: map.epoch,
    draining,
    shards: map.groups.map((g) => {
      const local = groups.get(g.id);
      return {
        id: g.id,
        role: g.id === METADATA_GROUP ? 'metadata' : 'data',
        slots: rangesOf(map, g.id).map((r) => [r.start, r.end]),
        voters: g.voters,
        learners: g.learners,
        leader_hint: g.leaderHint,
        // Known only where this node hosts a replica.
        leader: local ? (local.leader()?.id ?? null) : null,
        local: local !== undefined,
      };
    }),
  };
}

/** The body of GET /v1/shards, which the test kit and chaos read (test/support/shards.ts). */
export type ShardListBody = ReturnType<typeof shardList>;
export type ShardBody = ShardListBody['shards'][number];

/** A change the map refused is the caller's conflict (409), with the map's reason. */
function refusal(err: unknown): unknown {
  return err instanceof MapChangeError ? new HttpError(409, 'refused', err.message) : err;
}

/**
 * Why member `id` may not leave the cluster yet: it holds a replica of a data group in the map.
 * DELETE /v1/cluster/members/:id asks this first (unless forced); `raftkv member drain` empties it.
 */
export function removalRefused(map: SlotMap | undefined, id: string): string | undefined {
  const held = map?.groups.filter((g) => g.id !== METADATA_GROUP && (g.voters.includes(id) || g.learners.includes(id))).map((g) => g.id) ?? [];
  if (held.length === 0) return undefined;
  return `member ${id} holds replicas of shard${held.length > 1 ? 's' : ''} ${held.join(', ')}: drain it first (raftkv member drain ${id}), or force`;
}

export function registerShardRoutes(app: FastifyInstance, host: ShardRoutesHost): void {
  const currentMap = (): SlotMap => {
    const map = host.map;
    if (!map) throw new HttpError(503, 'no_slot_map', 'this node has not applied the slot map yet');
    return map;
  };

  app.get('/v1/shards', { schema: { description: 'The slot map: every shard (Raft group) with its slots, replicas and leader' } }, async () =>
    shardList(currentMap(), host.groups, host.draining()),
  );

  app.post<{ Params: { id: GroupId }; Body: { node: string } }>(
    '/v1/shards/:id/transfer-leader',
    {
      schema: {
        description: "Make a voter the shard's hinted leader; leadership moves there once its link is up",
        params: idParams,
        body: { type: 'object', properties: { node: nodeId }, required: ['node'], additionalProperties: false },
      },
    },
    async (req) => {
      const { id } = req.params;
      currentMap();
      try {
        const map = await changeMap(host.metadata, { type: 'setLeaderHint', group: id, node: req.body.node });
        return { ok: true, epoch: map.epoch, shard: id, leader_hint: req.body.node };
      } catch (err) {
        throw refusal(err);
      }
    },
  );

  app.post<{ Params: { id: GroupId }; Body: { slot: number } }>(
    '/v1/shards/:id/split',
    {
      schema: {
        description: "Split a shard: its slots from `slot` up become a new shard on the same replicas, the shard's log deciding the moment",
        params: idParams,
        body: { type: 'object', properties: { slot: { type: 'integer', minimum: 0, maximum: 16383 } }, required: ['slot'], additionalProperties: false },
      },
    },
    async (req) => {
      currentMap();
      // Changes of the map run where group 0 is led: a follower sends the caller there.
      if (!host.metadata.isLeader()) throw new NotLeaderError(host.metadata.leader());
      try {
        const { map, newGroup } = await host.split(req.params.id, req.body.slot);
        return { ok: true, epoch: map.epoch, shard: req.params.id, new_shard: newGroup, slots: rangesOf(map, newGroup).map((r) => [r.start, r.end]) };
      } catch (err) {
        throw refusal(err);
      }
    },
  );

  app.post<{ Params: { id: GroupId }; Body: { from: string; to: string } }>(
    '/v1/shards/:id/move-replica',
    {
      schema: {
        description: "Move a shard's replica between nodes: learner, snapshot catch-up, promote, then the old one removed",
        params: idParams,
        body: { type: 'object', properties: { from: nodeId, to: nodeId }, required: ['from', 'to'], additionalProperties: false },
      },
    },
    async (req) => {
      currentMap();
      if (!host.metadata.isLeader()) throw new NotLeaderError(host.metadata.leader());
      try {
        const map = await host.moveReplica(req.params.id, req.body.from, req.body.to);
        return { ok: true, epoch: map.epoch, shard: req.params.id, voters: map.groups.find((g) => g.id === req.params.id)?.voters ?? [] };
      } catch (err) {
        throw refusal(err);
      }
    },
  );

  for (const [method, on] of [
    ['POST', true],
    ['DELETE', false],
  ] as const) {
    app.route<{ Params: { id: string } }>({
      method,
      url: '/v1/cluster/members/:id/drain',
      schema: {
        description: on
          ? 'Drain a member before removing it: the rebalancer moves its replicas and leaders elsewhere'
          : 'Stop draining a member: the rebalancer may give it replicas again',
        params: { type: 'object', properties: { id: nodeId }, required: ['id'] },
      },
      handler: async (req) => {
        const map = currentMap();
        const id = req.params.id;
        if (on && !host.metadata.confState().voters.includes(id) && !host.metadata.confState().learners.includes(id)) {
          throw new HttpError(404, 'unknown_member', `node ${id} is not a member of the cluster`);
        }
        const draining = await host.setDraining(id, on);
        const holds = map.groups.filter((g) => g.id !== METADATA_GROUP && (g.voters.includes(id) || g.learners.includes(id))).map((g) => g.id);
        return { ok: true, node: id, draining, replicas: holds };
      },
    });
  }
}
