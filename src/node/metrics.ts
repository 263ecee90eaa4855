/**
 * Prometheus metrics, named as the Prometheus guidelines ask (`raftkv_<subsystem>_<name>_<unit>`)
 * with etcd's server, disk and network metrics as the model, so an etcd operator's dashboards
 * and alerts translate one for one (docs/operations.md, ops/). Node.js process metrics keep
 * their standard names (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`), so stock
 * Node.js dashboards work.
 *
 * Each node has its own registry (tests run several nodes in one process). Gauges read the
 * node's state when scraped instead of being pushed on the hot path, and so do the per-request
 * counters (commands, keyspace hits and misses): the hot path adds to a plain number, and
 * prom-client reads it at scrape time, so no label hashing happens per request.
 */
import { statfs } from 'node:fs/promises';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { KvEntry, KvResult } from '../kv/index.ts';
import { BUILD_INFO } from './build-info.ts';
import { diskUsage } from './disk-usage.ts';

/** A count kept as a plain number and read by the registry when scraped. */
export class Tally {
  value = 0;

  inc(n = 1): void {
    this.value += n;
  }
}

/** An outbound link's counts since it was made (transport/link.ts LinkStats). */
type PeerLinkCounts = { sent: number; frames: number; superseded: number; heartbeatFrames: number; heartbeatsCoalesced: number; sentBytes: number };

/** What the metrics read from their node, at scrape time only. */
export interface MetricsHost {
  readonly cfg: { readonly dataDir: string };
  readonly kv: { readonly size: number; usedMemory(): number };
  readonly appliedIndex: number;
  status(): { term: number; commit: number; leader: string };
  isLeader(): boolean;
  /** Proposals waiting to commit or to be handed to the core, and those that ended in an error. */
  proposalCounts(): { pending: number; failed: number };
  readonly transport: {
    stats(): Record<string, PeerLinkCounts & { state: string }>;
    groupStats(): { unhostedDropped: number };
    inboundStats(): { protocolErrors: number };
  };
}

/** Latency buckets from 0.5 ms (a LevelDB sync on a fast disk) to seconds (a stalled one). */
const DISK_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Loopback round trips are tens of microseconds; a WAN one tens of milliseconds. */
const RTT_BUCKETS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly commandTallies = new Map<string, Tally>();
  readonly hits = new Tally();
  readonly misses = new Tally();
  private readonly leaderChanges: Counter;
  readonly evictions: Counter;
  readonly expirations: Counter;
  private readonly fsyncSeconds: Histogram;
  private readonly applySeconds: Histogram;
  private readonly snapshotSeconds: Histogram;
  private readonly rttSeconds: Histogram<'peer'>;

  constructor(host: MetricsHost) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'raftkv_build_info',
      help: 'Always 1; the labels say which build runs',
      labelNames: ['version', 'node_version'],
      registers,
    }).set({ version: BUILD_INFO.version, node_version: BUILD_INFO.nodeVersion }, 1);

    const tallies = this.commandTallies;
    new Counter({
      name: 'raftkv_commands_total',
      help: 'Commands served, by command',
      labelNames: ['command'],
      registers,
      collect() {
        this.reset();
        for (const [command, t] of tallies) if (t.value > 0) this.inc({ command }, t.value);
      },
    });
    const tallied = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    tallied('raftkv_keyspace_hits_total', 'Reads that found their key', () => this.hits.value);
    tallied('raftkv_keyspace_misses_total', 'Reads that missed', () => this.misses.value);
    tallied(
      'raftkv_server_proposals_failed_total',
      'Proposals that ended in an error: replaced, unusable, or outcome unknown',
      () => host.proposalCounts().failed,
    );
    this.leaderChanges = new Counter({ name: 'raftkv_server_leader_changes_seen_total', help: 'Times this node saw a new leader', registers });
    this.evictions = new Counter({ name: 'raftkv_evicted_keys_total', help: 'Keys evicted (applied from the log)', registers });
    this.expirations = new Counter({ name: 'raftkv_expired_keys_total', help: 'Keys expired (applied from the log)', registers });

    const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers });
    this.fsyncSeconds = histogram('raftkv_disk_fsync_duration_seconds', 'Synced LevelDB batch latency (log entries and hard state)', DISK_BUCKETS);
    this.applySeconds = histogram('raftkv_server_apply_duration_seconds', "Time to apply one Ready's committed entries", DISK_BUCKETS);
    this.snapshotSeconds = histogram('raftkv_snapshot_save_duration_seconds', 'Time to take, save and compact after one snapshot', DISK_BUCKETS);
    this.rttSeconds = new Histogram({
      name: 'raftkv_network_peer_round_trip_time_seconds',
      help: 'Round trip of a keep-alive ping on the outbound link to a peer',
      labelNames: ['peer'],
      buckets: RTT_BUCKETS,
      registers,
    });

    const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(await read());
        },
      });
    gauge('raftkv_server_has_leader', '1 when this node knows a leader', () => (host.status().leader ? 1 : 0));
    gauge('raftkv_server_is_leader', '1 on the leader', () => (host.isLeader() ? 1 : 0));
    gauge('raftkv_server_term', 'Current Raft term', () => host.status().term);
    gauge('raftkv_server_proposals_committed_total', 'Committed log index (as etcd, a gauge despite the name)', () => host.status().commit);
    gauge('raftkv_server_proposals_applied_total', 'Applied log index (as etcd, a gauge despite the name)', () => host.appliedIndex);
    gauge('raftkv_server_proposals_pending', 'Proposals waiting to commit', () => host.proposalCounts().pending);
    gauge('raftkv_keys', 'Keys held, expired ones included until their delete is applied', () => host.kv.size);
    gauge('raftkv_used_memory_bytes', 'Accounted memory of keys and values', () => host.kv.usedMemory());
    gauge('raftkv_disk_size_bytes', 'Bytes of files in the data directory (LevelDB log, snapshots)', () => diskUsage(host.cfg.dataDir));
    // The filesystem under the data directory, for the disk-full alert without a node exporter.
    const fs = () => statfs(host.cfg.dataDir).catch(() => undefined);
    gauge('raftkv_disk_filesystem_avail_bytes', "Bytes an unprivileged writer may still use on the data directory's filesystem", async () => {
      const s = await fs();
      return s ? s.bavail * s.bsize : Number.NaN;
    });
    gauge('raftkv_disk_filesystem_size_bytes', "Size of the data directory's filesystem", async () => {
      const s = await fs();
      return s ? s.blocks * s.bsize : Number.NaN;
    });
    tallied(
      'raftkv_network_unhosted_group_messages_dropped_total',
      'Messages (and snapshot transfers) from peers dropped on arrival because their Raft group is not hosted here',
      () => host.transport.groupStats().unhostedDropped,
    );
    tallied(
      'raftkv_network_peer_protocol_errors_total',
      "Peers' inbound links closed for an undecodable or out-of-place frame",
      () => host.transport.inboundStats().protocolErrors,
    );
    // Per outbound link, since the link was made: a peer removed and re-added starts again at 0.
    const perPeer = (name: string, help: string, read: (s: PeerLinkCounts) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['peer'],
        registers,
        collect() {
          this.reset();
          for (const [peer, s] of Object.entries(host.transport.stats())) this.inc({ peer }, read(s));
        },
      });
    // Messages per frame: how well one flush carries many groups' messages (issue 13).
    perPeer('raftkv_network_peer_messages_sent_total', 'Raft messages (of all groups) written on the outbound link to a peer', (s) => s.sent);
    perPeer(
      'raftkv_network_peer_messages_superseded_total',
      'Commit-only Apps and acks left out of the outbound link to a peer because a later message of their group covered them',
      (s) => s.superseded,
    );
    perPeer(
      'raftkv_network_peer_frames_sent_total',
      'Frames (batches, coalesced heartbeats, snapshot chunks) written on the outbound link to a peer',
      (s) => s.frames,
    );
    perPeer('raftkv_network_peer_heartbeat_frames_sent_total', 'Coalesced Heartbeats frames written on the outbound link to a peer', (s) => s.heartbeatFrames);
    perPeer(
      'raftkv_network_peer_heartbeats_coalesced_total',
      'Heartbeats and heartbeat responses, of all groups, sent to a peer inside coalesced Heartbeats frames',
      (s) => s.heartbeatsCoalesced,
    );
    // etcd's etcd_network_peer_sent_bytes_total: what one more idle group costs shows here.
    perPeer('raftkv_network_peer_sent_bytes_total', 'Frame bytes (WebSocket payloads) written on the outbound link to a peer', (s) => s.sentBytes);
    new Gauge({
      name: 'raftkv_network_peer_connected',
      help: '1 when the outbound link to a peer is connected',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const [peer, s] of Object.entries(host.transport.stats())) this.set({ peer }, s.state === 'connected' ? 1 : 0);
      },
    });
  }

  /** The tally of one command (by full name, "client|list"); keep it and `inc()` per request. */
  command(name: string): Tally {
    let t = this.commandTallies.get(name);
    if (t === undefined) {
      t = new Tally();
      this.commandTallies.set(name, t);
    }
    return t;
  }

  fsync(ms: number): void {
    this.fsyncSeconds.observe(ms / 1000);
  }

  applyTook(ms: number): void {
    this.applySeconds.observe(ms / 1000);
  }

  snapshotTook(ms: number): void {
    this.snapshotSeconds.observe(ms / 1000);
  }

  peerRtt(peer: string, ms: number): void {
    this.rttSeconds.observe({ peer }, ms / 1000);
  }

  /** A new leader is known (changes to "no leader" are not counted, as in etcd). */
  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  applied(entry: KvEntry, results: KvResult[]): void {
    for (let i = 0; i < entry.ops.length; i++) {
      const op = entry.ops[i];
      if (op.type === 'expireIf' && isDeleted(results[i])) this.expirations.inc();
      else if (op.type === 'evict' || op.type === 'evictIf') this.evictions.inc(deletedCount(results[i]));
    }
  }
}

function isDeleted(r: KvResult | undefined): boolean {
  return r !== undefined && r.type === 'int' && r.value > 0;
}

function deletedCount(r: KvResult | undefined): number {
  return r !== undefined && r.type === 'int' ? Number(r.value) : 0;
}
