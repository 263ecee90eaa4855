/**
 * The routing view of a multi-group node (issue 13): the slot map this node applied, with each
 * local group's actual leader in place of the map's hint, as the `LayoutView` the RESP front end
 * routes by (src/resp/cluster/). Rebuilt whole whenever the map or a local leader changes.
 *
 * A group this node hosts reports the leader its replica knows (and the last one while an
 * election runs); a group it does not host reports the map's leader hint, which is where the
 * leader spread duty moves leadership (leader-spread.ts). Either may be stale for a moment: the
 * client is then sent to a node that answers MOVED again, and the group itself refuses keys it
 * does not own, so a stale view costs a redirect, never a wrong answer.
 */
import { CurrentView, LayoutView } from '../../resp/cluster/layout-view.ts';
import { METADATA_GROUP, rangesOf, type SlotMap } from '../../shard/index.ts';
import type { Logger } from '../logger.ts';
import type { Member } from '../members.ts';
import type { RaftNode } from '../raft-node.ts';

export interface ViewSource {
  readonly self: string;
  readonly map: SlotMap;
  readonly groups: ReadonlyMap<number, RaftNode>;
  /** Whether this node's link to a member is up. */
  reachable(id: string): boolean;
}

export function buildView(src: ViewSource): LayoutView<RaftNode> {
  const address = (id: string): Member | undefined => {
    for (const node of src.groups.values()) {
      const m = node.members.get(id);
      if (m) return m;
    }
    return undefined;
  };
  const groups = src.map.groups
    .filter((g) => g.id !== METADATA_GROUP)
    .map((g) => {
      const local = src.groups.get(g.id);
      const replicas = [...g.voters, ...g.learners].map(address).filter((m): m is Member => m !== undefined);
      const known = new Set(replicas.map((m) => m.id));
      const leader = local ? local.leader()?.id : g.leaderHint;
      const lastLeader = local ? local.lastKnownLeader()?.id : g.leaderHint;
      // Live, read at each CLUSTER SHARDS: this node's applied index, and as leader each
      // replica's match (the view itself is rebuilt only for a new map or leader).
      const offsets: Record<string, number> = {};
      if (local) {
        for (const m of replicas) {
          const get = m.id === src.self ? () => local.appliedIndex : () => local.progress()?.[m.id]?.match ?? 0;
          Object.defineProperty(offsets, m.id, { enumerable: true, get });
        }
      }
      return {
        group: g.id,
        ranges: rangesOf(src.map, g.id).map((r) => ({ start: r.start, end: r.end })),
        replicas,
        leader: leader !== undefined && known.has(leader) ? leader : undefined,
        lastLeader: lastLeader !== undefined && known.has(lastLeader) ? lastLeader : undefined,
        configEpoch: src.map.epoch,
        local: local && known.has(src.self) ? local : undefined,
        offsets,
      };
    });
  return new LayoutView<RaftNode>({ self: src.self, epoch: src.map.epoch, groups, reachable: (id) => id === src.self || src.reachable(id) });
}

/** What `followView` reads from the store. */
export interface ViewStore {
  readonly cfg: { readonly id: string };
  readonly map: SlotMap | undefined;
  readonly groups: ReadonlyMap<number, RaftNode>;
  readonly transport: { stats(): Record<string, { state: string }> };
  on(event: 'changed', listener: () => void): unknown;
}

/**
 * The view a sharded RESP server routes by, kept current: rebuilt (once per turn, however many
 * groups changed leader in it) whenever the store's map or a local leader changes.
 */
export function followView(store: ViewStore, log: Pick<Logger, 'error'>): CurrentView<RaftNode> {
  const build = (): LayoutView<RaftNode> => {
    const map = store.map;
    // A joining node before its metadata group caught up: no slot is served here yet.
    if (!map) return new LayoutView<RaftNode>({ self: store.cfg.id, epoch: 0, groups: [] });
    return buildView({ self: store.cfg.id, map, groups: store.groups, reachable: (id) => store.transport.stats()[id]?.state === 'connected' });
  };
  const view = new CurrentView<RaftNode>(build());
  let queued = false;
  store.on('changed', () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      try {
        view.current = build();
      } catch (err) {
        // A map that cannot be routed by (LayoutError) keeps the last good view serving.
        log.error({ err }, 'cannot build the routing view from the slot map; routing by the previous one');
      }
    });
  });
  return view;
}
