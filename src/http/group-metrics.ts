/**
 * /metrics of a multi-group node: one exposition for all of its groups. Each group's Raft and
 * keyspace figures (raftkv_server_*, raftkv_keys, raftkv_commands_total, ...) carry a `group`
 * label; what the node's groups share (the process, the disk, the peer links, the build) comes
 * once, from group 0's registry, without one.
 *
 * The families are merged by prom-client's aggregator, which keeps series apart by their labels,
 * so a family appears once with a series per group, as the exposition format requires.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { RaftNode } from '../node/raft-node.ts';
import { METADATA_GROUP } from '../shard/index.ts';

/** Families of the whole node: every group's registry reports the same values for them. */
const NODE_WIDE = /^raftkv_(build_info|disk_filesystem_|disk_size_bytes|network_)/;

const perGroup = (name: string): boolean => name.startsWith('raftkv_') && !NODE_WIDE.test(name);

export async function groupsMetrics(groups: ReadonlyMap<number, RaftNode>): Promise<{ text: string; contentType: string }> {
  const all: MetricObjectWithValues<MetricValue<string>>[][] = [];
  for (const [id, node] of [...groups].sort(([a], [b]) => a - b)) {
    const kept: MetricObjectWithValues<MetricValue<string>>[] = [];
    for (const m of await node.metrics.registry.getMetricsAsJSON()) {
      if (!perGroup(m.name)) {
        if (id === METADATA_GROUP) kept.push(m);
        continue;
      }
      kept.push({ ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, group: id } })) });
    }
    all.push(kept);
  }
  const merged = AggregatorRegistry.aggregate(all);
  return { text: await merged.metrics(), contentType: merged.contentType };
}
