/**
 * A node that hosts replicas of many Raft groups (issue 13, `--shards N` above 1): one LevelDB
 * engine and one peer transport for all of them, one `RaftNode` per group on top.
 *
 * Each group is today's unit unchanged (core, Ready loop, KV state machine, snapshots); what
 * the store adds is only what groups share:
 *  - the engine (src/storage/engine.ts): each group's log is a view of one LevelDB, and every
 *    group's saves of one turn are one fsynced batch;
 *  - the transport: each group sends through a `GroupLink` (its endpoint, tagged on the wire,
 *    heartbeats coalesced per peer) and the links dialled are the union of every group's peers;
 *  - group 0, the metadata group, whose state machine holds the slot map (map-record.ts); the
 *    store reads the map back after group 0 applies, and rebuilds the routing view (view.ts)
 *    whenever the map or a local group's leader changes;
 *  - the leader spread duty (leader-spread.ts), which moves each group's leadership to the
 *    node the map hints, so leaders are spread evenly across nodes.
 *
 * Bootstrap (a fresh data directory): every node computes the same initial layout from the same
 * --peers (src/shard `initialLayout`), seeds group 0 with it, then seeds each group it
 * replicates (seed.ts). A crash part-way is finished at the next start: while the map is still at
 * its initial epoch, a missing group of this node is seeded again, to the same bytes.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { KvStore } from '../../kv/index.ts';
import { checkMap, findGroup, INITIAL_EPOCH, initialLayout, METADATA_GROUP, rangesOf, type SlotMap } from '../../shard/index.ts';
import { StorageEngine } from '../../storage/index.ts';
import type { Transport } from '../../transport/index.ts';
import { adoptClusterId, bootstrapClusterId } from '../cluster-id.ts';
import type { NodeConfig } from '../config.ts';
import { bootstrapEntries } from '../leadership.ts';
import type { Logger } from '../logger.ts';
import { Members } from '../members.ts';
import { addressBook, openCore, openTransport } from '../open.ts';
import type { PublishEvent } from '../raft-node.ts';
import { RaftNode } from '../raft-node.ts';
import { splitEnvelope } from '../snapshotter.ts';
import type { NodeTls } from '../tls-config.ts';
import { moveReplica, splitGroup } from './changes.ts';
import { readDraining, setDraining } from './drain.ts';
import { GroupLink, PeerUnion } from './group-link.ts';
import { LeaderSpread } from './leader-spread.ts';
import { MAP_KEY, MapChangeError, type MapRecord, readMap, seedMap } from './map-record.ts';
import { Rebalancer } from './rebalancer.ts';
import { Reconciler } from './reconcile.ts';
import { seedGroup } from './seed.ts';
import { SharedTurn } from './turn.ts';

/** Voters of group 0 at bootstrap: enough for its quorum to outlive failures, no more. */
const METADATA_VOTERS = 5;

/**
 * Every node applies group 0's log, since every node routes by the map: the layout's group 0
 * becomes the first METADATA_VOTERS nodes as voters (its hint kept when it is one of them) and
 * the rest as learners.
 */
function withEveryNodeInGroup0(map: SlotMap, nodes: readonly string[]): SlotMap {
  const g0 = findGroup(map, METADATA_GROUP)!;
  const order = [...g0.voters, ...nodes.filter((n) => !g0.voters.includes(n))];
  const voters = order.slice(0, METADATA_VOTERS);
  const hint = g0.leaderHint !== undefined && voters.includes(g0.leaderHint) ? g0.leaderHint : voters[0];
  const group0 = { id: METADATA_GROUP, voters, learners: order.slice(METADATA_VOTERS), leaderHint: hint };
  const out = { ...map, groups: map.groups.map((g) => (g.id === METADATA_GROUP ? group0 : g)) };
  const problem = checkMap(out);
  if (problem) throw new ShardedDataError(`the initial slot map is invalid: ${problem}`);
  return out;
}

export class ShardedDataError extends Error {
  override name = 'ShardedDataError';
}

export class NodeStore extends EventEmitter<{ publish: [PublishEvent, RaftNode]; changed: []; fatal: [Error] }> {
  /** Every group this node hosts, by id; group 0 among them. */
  readonly groups = new Map<number, RaftNode>();
  private record: MapRecord | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly spread: LeaderSpread;
  private readonly reconciler: Reconciler;
  private readonly rebalancer: Rebalancer;
  private readonly peers: PeerUnion;
  private started = false;
  private readonly openedAt = performance.now();
  /** Every group's Ready loop runs in one pass per turn (turn.ts). */
  private readonly turn = new SharedTurn();
  private closed = false;
  private changing = false;

  private constructor(
    readonly cfg: NodeConfig,
    readonly log: Logger,
    readonly engine: StorageEngine,
    readonly transport: Transport,
  ) {
    super();
    this.peers = new PeerUnion(transport);
    this.reconciler = new Reconciler(
      {
        self: cfg.id,
        engine,
        groups: this.groups,
        map: () => this.record?.map,
        startGroup: (id) => this.startGroup(id),
        splitting: () => this.changing,
        retireGroup: (id) => this.retireGroup(id),
      },
      log,
    );
    const store = this;
    this.rebalancer = new Rebalancer(
      {
        cfg,
        log,
        engine,
        groups: this.groups,
        get map() {
          return store.map;
        },
        get metadata() {
          return store.metadata;
        },
        // Dead only after a while: a restart or a short partition must not move every replica.
        alive: (id) => {
          if (id === cfg.id) return true;
          // Not heard from yet: alive while this node has not been up that long itself.
          const since = store.groups.get(METADATA_GROUP)?.contact.sinceMs(id) ?? performance.now() - store.openedAt;
          return since < cfg.rebalanceDeadAfter;
        },
        exclusive: (change) => this.exclusive(change),
      },
      log,
    );
    this.spread = new LeaderSpread(
      {
        self: cfg.id,
        map: () => this.record?.map,
        groups: () => this.groups,
        linkUp: (id) => transport.stats()[id]?.state === 'connected',
        paused: () => this.changing,
      },
      log,
    );
  }

  /** Opens (or bootstraps) every group in cfg.dataDir; call `start` to begin ticking. */
  static async open(cfg: NodeConfig, log: Logger, tls: Pick<NodeTls, 'peerDial'> = {}): Promise<NodeStore> {
    const engine = await StorageEngine.open(cfg.dataDir, { logger: log });
    let store: NodeStore | undefined;
    try {
      const transport = openTransport(
        cfg,
        log,
        tls,
        {
          isAllowedPeer: (id) => store?.peers.has(id) ?? false,
          onPeerRtt: (id, ms) => store?.groups.get(METADATA_GROUP)?.metrics.peerRtt(id, ms),
          wasRemoved: () => false,
          onRemoved: () => {},
        },
        (id, from) => adoptClusterId(engine.group(METADATA_GROUP), log, id, from),
      );
      store = new NodeStore(cfg, log, engine, transport);
      await store.bootstrap();
      // Before any group names its peers: a link dialled without the id fails its handshake.
      transport.clusterId = engine.group(METADATA_GROUP).clusterId() ?? '';
      for (const id of engine.groupIds()) await store.openGroup(id);
      store.refresh();
      return store;
    } catch (err) {
      if (store) for (const node of store.groups.values()) await node.shutdown().catch(() => {});
      await engine.close().catch(() => {});
      throw err;
    }
  }

  /** Seeds the groups of a new cluster, or finishes a bootstrap a crash cut short. */
  private async bootstrap(): Promise<void> {
    const { cfg, engine } = this;
    const ids = engine.groupIds();
    if (ids.length === 0 && cfg.join) {
      // A node joining a sharded cluster: an empty group 0, caught up by its leader once
      // `raftkv member add` makes it a member; the rebalancer gives it data groups after.
      await engine.createGroup(METADATA_GROUP);
      this.log.info('joining a sharded cluster: waiting to be added as a member');
      return;
    }
    if (ids.length > 0 && !ids.includes(METADATA_GROUP)) {
      throw new ShardedDataError(`${cfg.dataDir} holds a cluster of one group (no slot map): start it without --shards`);
    }
    const peers = cfg.peers.length > 0 ? cfg.peers : [addressBook(cfg).get(cfg.id)!];
    let map: SlotMap;
    if (ids.length === 0) {
      map = withEveryNodeInGroup0(
        initialLayout(
          peers.map((p) => p.id),
          cfg.shards,
          Math.min(3, peers.length),
        ),
        peers.map((p) => p.id),
      );
    } else {
      const g0 = engine.group(METADATA_GROUP);
      const snap = await g0.loadSnapshot();
      const kv = new KvStore();
      // Group 0's seed is its first snapshot: the initial map, until a change is applied.
      if (snap.meta.index !== 1 || g0.lastIndex() > 1) return;
      await kv.restore(splitEnvelope(snap.data)!.kv);
      const rec = readMap(kv, 0);
      if (!rec || rec.map.epoch !== INITIAL_EPOCH) return;
      map = rec.map;
    }
    const clusterId = bootstrapClusterId(cfg.clusterToken, bootstrapEntries(peers));
    const book = new Members(peers);
    for (const g of [METADATA_GROUP, ...map.groups.map((x) => x.id).filter((id) => id !== METADATA_GROUP)]) {
      const replicas = findGroup(map, g);
      const mine = replicas && (replicas.voters.includes(cfg.id) || replicas.learners.includes(cfg.id));
      if (!mine || engine.groupIds().includes(g)) continue;
      const storage = await engine.createGroup(g);
      await storage.setClusterId(clusterId);
      const kv = g === METADATA_GROUP ? new KvStore() : new KvStore({ slots: rangesOf(map, g).map((r) => [r.start, r.end] as const), countSlots: true });
      if (g === METADATA_GROUP) seedMap(kv, map);
      const members = new Members([...replicas.voters, ...replicas.learners].map((id) => book.get(id)!)).encode();
      const conf = { voters: [...replicas.voters], learners: [...replicas.learners] };
      await seedGroup(storage, { conf, members, image: kv.beginSnapshot(), index: 1, term: 1 });
      this.log.info({ group: g, voters: replicas.voters }, 'bootstrapped group');
    }
  }

  /** Group 0 adopted the cluster-wide settings: every data group's state machine follows. */
  private settingsAdopted(c: Readonly<Pick<NodeConfig, 'maxmemory' | 'maxmemoryPolicy'>>): void {
    for (const [id, node] of this.groups) {
      if (id === METADATA_GROUP) continue;
      node.kv.maxmemory = c.maxmemory;
      node.kv.policy = c.maxmemoryPolicy;
    }
  }

  private async openGroup(id: number): Promise<RaftNode> {
    const { cfg, transport, peers } = this;
    const log = this.log.child({ group: id });
    const node = await RaftNode.build(
      cfg,
      log,
      async (handlers) => {
        const endpoint = transport.group(id, { onMessage: (m) => handlers.onMessage(m) });
        endpoint.onUnreachable = (peer) => handlers.onUnreachable(peer);
        endpoint.onSnapshotStatus = (peer, ok) => handlers.onSnapshotStatus(peer, ok);
        const link = new GroupLink(id, endpoint, transport, peers);
        return openCore(cfg, log, {
          storage: this.engine.group(id),
          link,
          transport,
          members: addressBook(cfg),
          kv: { countSlots: id !== METADATA_GROUP },
          scheduler: this.turn,
          // Group 0 holds the cluster-wide settings (CONFIG SET goes there, like PUBLISH); the
          // data groups' state machines take maxmemory and the policy from the node.
          settings: id === METADATA_GROUP ? { adopts: true, adopted: (c) => this.settingsAdopted(c) } : { adopts: false },
        });
      },
      true,
    );
    node.on('leader', () => this.changed());
    node.on('publish', (e) => this.emit('publish', e, node));
    node.on('fatal', (err) => this.emit('fatal', err));
    node.on('split', (split) => this.reconciler.onSplit(id, node, split));
    this.groups.set(id, node);
    return node;
  }

  /** A group created while running (a split, a replica given to this node): open and start it. */
  private async startGroup(id: number): Promise<void> {
    if (this.closed || this.groups.has(id)) return;
    const node = await this.openGroup(id);
    if (this.started) node.start();
    this.changed();
  }

  registerRoutes(app: FastifyInstance): Promise<void> {
    return this.transport.registerRoutes(app);
  }

  start(): void {
    this.started = true;
    for (const node of this.groups.values()) node.start();
    // One timer for every group: their ticks, and so their heartbeats, share one turn.
    this.ticker = setInterval(() => {
      for (const node of this.groups.values()) node.tick();
    }, this.cfg.tickMs);
    this.timer = setInterval(() => this.onTick(), Math.max(this.cfg.tickMs * 2, 100));
  }

  /**
   * The slot map as this node last applied it: read back from group 0 here, not only on the
   * tick, so a change this node has just applied (a POST /v1/shards answered) shows at once.
   */
  get map(): SlotMap | undefined {
    this.refresh();
    return this.record?.map;
  }

  get metadata(): RaftNode {
    const g0 = this.groups.get(METADATA_GROUP);
    if (!g0) throw new ShardedDataError('this node hosts no replica of the metadata group');
    return g0;
  }

  /** Splits group `group` at `slot` (changes.ts); one change at a time per node. */
  split(group: number, slot: number): Promise<{ map: SlotMap; newGroup: number }> {
    return this.exclusive(() => splitGroup(this, group, slot));
  }

  /** The configuration a split applied here gave its new group (reconcile.ts). */
  splitConf(group: number): { voters: string[]; learners: string[] } | undefined {
    return this.reconciler.splitConf(group);
  }

  /** Moves group `group`'s replica from node `from` to node `to` (changes.ts). */
  moveReplica(group: number, from: string, to: string): Promise<SlotMap> {
    return this.exclusive(() => moveReplica(this, group, from, to));
  }

  draining(): string[] {
    const g0 = this.groups.get(METADATA_GROUP);
    return g0 ? readDraining(g0.kv, g0.now()) : [];
  }

  setDraining(node: string, on: boolean): Promise<string[]> {
    return setDraining(this.metadata, node, on);
  }

  /** Runs `change` unless another shard change runs on this node (one at a time). */
  async exclusive<T>(change: () => Promise<T>): Promise<T> {
    if (this.changing) throw new MapChangeError('a shard change is already running on this node; try again once it is done');
    this.changing = true;
    try {
      return await change();
    } finally {
      this.changing = false;
    }
  }

  /** This node no longer replicates `id` (moved away): stop it and delete its data. */
  async retireGroup(id: number): Promise<void> {
    const node = this.groups.get(id);
    if (!node || id === METADATA_GROUP) return;
    this.groups.delete(id);
    this.changed();
    await node.shutdown().catch((err: Error) => this.log.warn({ group: id, err }, 'retiring group: shutdown failed'));
    await this.engine.dropGroup(id);
    this.log.info({ group: id }, `retired group ${id}: this node no longer replicates it`);
  }

  private onTick(): void {
    if (this.closed) return;
    this.refresh();
    this.spread.tick();
    this.reconciler.tick();
    if (this.cfg.rebalance === 'yes') this.rebalancer.tick();
  }

  /** Reads the map back from group 0's state machine; a new one rebuilds the routing view. */
  private refresh(): void {
    const g0 = this.groups.get(METADATA_GROUP);
    if (!g0) return;
    // Decoded only when the key's version moved: the map is read on every tick and route call.
    const now = g0.now();
    if (this.record !== undefined && g0.kv.version(MAP_KEY, now) === this.record.version) return;
    const rec = readMap(g0.kv, now);
    if (rec && rec.version !== this.record?.version) {
      this.record = rec;
      this.changed();
    }
  }

  private changed(): void {
    this.emit('changed');
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    await this.reconciler.idle();
    // Data groups first: group 0 is what the others' routing reads.
    const order = [...this.groups.keys()].sort((a, b) => b - a);
    await Promise.all(order.filter((id) => id !== METADATA_GROUP).map((id) => this.groups.get(id)!.shutdown()));
    await this.groups.get(METADATA_GROUP)?.shutdown();
    await this.transport.close();
    await this.engine.close();
  }
}
