/**
 * Prometheus metrics. Each node has its own registry (tests run several nodes in one process);
 * gauges read the node's state when scraped instead of being pushed on the hot path, and so do
 * the per-request counters (commands, keyspace hits and misses): the hot path adds to a plain
 * number, and prom-client reads it at scrape time, so no label hashing happens per request.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KvEntry, KvResult } from '../kv/index.ts';

/** A count kept as a plain number and read by the registry when scraped. */
export class Tally {
  value = 0;

  inc(n = 1): void {
    this.value += n;
  }
}

/** What the gauges read from the node when scraped. */
export interface MetricsSource {
  /** Keys held and their accounted bytes (KvStore.size, usedMemory). */
  keys(): number;
  usedMemory(): number;
  term(): number;
  commit(): number;
  applied(): number;
  isLeader(): boolean;
  /** The outbound peer links (Transport.stats). */
  links(): Record<string, { state: string }>;
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly commandTallies = new Map<string, Tally>();
  readonly hits = new Tally();
  readonly misses = new Tally();
  readonly leaderChanges: Counter;
  readonly snapshots: Counter;
  readonly evictions: Counter;
  readonly expirations: Counter;
  private readonly fsyncSeconds: Histogram;

  constructor(node: MetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'raftkv_process_' });
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
    const tallied = (name: string, help: string, t: Tally) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(t.value);
        },
      });
    tallied('raftkv_keyspace_hits_total', 'Reads that found their key', this.hits);
    tallied('raftkv_keyspace_misses_total', 'Reads that missed', this.misses);
    this.leaderChanges = new Counter({ name: 'raftkv_leader_changes_total', help: 'Leader changes seen by this node', registers });
    this.snapshots = new Counter({ name: 'raftkv_snapshots_total', help: 'Snapshots taken', registers });
    this.evictions = new Counter({ name: 'raftkv_evicted_keys_total', help: 'Keys evicted (applied from the log)', registers });
    this.expirations = new Counter({ name: 'raftkv_expired_keys_total', help: 'Keys expired (applied from the log)', registers });
    this.fsyncSeconds = new Histogram({
      name: 'raftkv_fsync_duration_seconds',
      help: 'Durable LevelDB batch latency',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('raftkv_keys', 'Keys held, expired ones included until their delete is applied', () => node.keys());
    gauge('raftkv_used_memory_bytes', 'Accounted memory of keys and values', () => node.usedMemory());
    gauge('raftkv_term', 'Current Raft term', () => node.term());
    gauge('raftkv_commit_index', 'Commit index', () => node.commit());
    gauge('raftkv_applied_index', 'Applied index', () => node.applied());
    gauge('raftkv_is_leader', '1 on the leader', () => (node.isLeader() ? 1 : 0));
    new Gauge({
      name: 'raftkv_peer_connected',
      help: '1 when the outbound link to a peer is connected',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const [peer, s] of Object.entries(node.links())) this.set({ peer }, s.state === 'connected' ? 1 : 0);
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
