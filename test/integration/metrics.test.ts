/**
 * The Prometheus metrics an operator's dashboard and alerts read (ops/, docs/operations.md),
 * scraped from a real 3-node cluster: etcd's server/disk/network set under raftkv_ names, the
 * build, and Node.js process metrics under their standard names.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** The PromQL of ops/grafana's dashboard panels and ops/prometheus's alert rules. */
function shippedQueries(): string[] {
  const root = new URL('../../ops/', import.meta.url);
  const dashboard = JSON.parse(readFileSync(new URL('grafana/raftkv-dashboard.json', root), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  const rules = readFileSync(new URL('prometheus/alerts.yml', root), 'utf8');
  return [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...[...rules.matchAll(/^\s*expr: (.*)$/gm)].map((x) => x[1])];
}

/** Every sample of a scrape, by its full series name (`name{labels}`). */
async function scrape(c: ClusterHarness, h: NodeHandle): Promise<Map<string, number>> {
  const text = await (await c.fetch(c.url(h, '/metrics'))).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

describe('metrics', () => {
  it('reports leadership, proposals, durations, disk, peer round trips and the build on every node', async () => {
    cluster = new ClusterHarness({ extraArgs: ['--snapshot-entries', '20', '--snapshot-keep-entries', '5'] });
    await cluster.start();
    const leader = await cluster.waitLeader();
    for (let i = 0; i < 30; i++) expect((await cluster.put(leader, `k${i}`, 'v')).status).toBe(200);
    // Keep-alive pings go out every 5 s on each outbound link; wait for one answer per peer.
    await waitFor(
      async () => {
        for (const h of cluster!.nodes) {
          const m = await scrape(cluster!, h);
          for (const p of cluster!.nodes) {
            if (p === h) continue;
            if (!((m.get(`raftkv_network_peer_round_trip_time_seconds_count{peer="${p.id}"}`) ?? 0) >= 1)) return false;
          }
        }
        return true;
      },
      15_000,
      'a ping round trip on every link',
      250,
    );
    for (const h of cluster.nodes) {
      const m = await scrape(cluster, h);
      expect(m.get('raftkv_server_has_leader'), h.id).toBe(1);
      expect(m.get('raftkv_server_is_leader'), h.id).toBe(h === leader ? 1 : 0);
      expect(m.get('raftkv_server_leader_changes_seen_total'), h.id).toBeGreaterThanOrEqual(1);
      expect(m.get('raftkv_server_proposals_committed_total'), h.id).toBeGreaterThanOrEqual(31);
      expect(m.get('raftkv_server_proposals_applied_total'), h.id).toBeGreaterThanOrEqual(31);
      expect(m.get('raftkv_server_proposals_pending'), h.id).toBe(0);
      expect(m.get('raftkv_server_proposals_failed_total'), h.id).toBe(0);
      expect(m.get('raftkv_server_apply_duration_seconds_count'), h.id).toBeGreaterThan(0);
      expect(m.get('raftkv_disk_fsync_duration_seconds_count'), h.id).toBeGreaterThan(0);
      // 30 writes against a 20-entry threshold: every node has taken at least one snapshot.
      expect(m.get('raftkv_snapshot_save_duration_seconds_count'), h.id).toBeGreaterThanOrEqual(1);
      // The files of the data directory, as `find -type f` sums them (nothing writes now).
      const files = execFileSync('find', [h.dataDir, '-type', 'f', '-printf', '%s\\n'], { encoding: 'utf8' });
      const bytes = files
        .trim()
        .split('\n')
        .reduce((n, l) => n + Number(l), 0);
      expect(bytes).toBeGreaterThan(1000);
      expect(m.get('raftkv_disk_size_bytes'), h.id).toBe(bytes);
      const fs = statfsSync(h.dataDir);
      expect(m.get('raftkv_disk_filesystem_size_bytes'), h.id).toBe(fs.blocks * fs.bsize);
      expect(Math.abs(m.get('raftkv_disk_filesystem_avail_bytes')! - fs.bavail * fs.bsize), h.id).toBeLessThan(64 * 1024 * 1024);
      expect(m.get(`raftkv_build_info{version="0.1.0",node_version="${process.version}"}`), h.id).toBe(1);
      // Stock Node.js dashboards: the default metrics under their standard names, unprefixed.
      expect(m.get('process_cpu_seconds_total'), h.id).toBeGreaterThan(0);
      expect(m.has('nodejs_heap_size_used_bytes'), h.id).toBe(true);
      expect(
        [...m.keys()].some((k) => k.startsWith('raftkv_process_')),
        h.id,
      ).toBe(false);
      for (const p of cluster.nodes) if (p !== h) expect(m.get(`raftkv_network_peer_connected{peer="${p.id}"}`), `${h.id}->${p.id}`).toBe(1);
      // The transport's group counters: one group, so nothing unhosted; heartbeats (the leader's,
      // the followers' answers) travel coalesced, one or more per frame; no peer broke the protocol.
      expect(m.get('raftkv_network_unhosted_group_messages_dropped_total'), h.id).toBe(0);
      expect(m.get('raftkv_network_peer_protocol_errors_total'), h.id).toBe(0);
      for (const p of cluster.nodes) {
        if (p === h || (h !== leader && p !== leader)) continue;
        const frames = m.get(`raftkv_network_peer_heartbeat_frames_sent_total{peer="${p.id}"}`)!;
        expect(frames, `${h.id}->${p.id}`).toBeGreaterThan(0);
        expect(m.get(`raftkv_network_peer_heartbeats_coalesced_total{peer="${p.id}"}`), `${h.id}->${p.id}`).toBeGreaterThanOrEqual(frames);
      }
    }
    // Every series the shipped dashboard and alert rules query exists under that name.
    // Declared families count: a labelled counter with no samples yet (commands, before any
    // RESP client) is still a series Prometheus will see.
    const text = await (await cluster.fetch(cluster.url(leader, '/metrics'))).text();
    const served = new Set<string>();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      served.add(name);
      if (type === 'histogram') for (const suffix of ['_bucket', '_count', '_sum']) served.add(name + suffix);
    }
    const queried = [
      ...shippedQueries()
        .join('\n')
        .matchAll(/\b(?:raftkv|process|nodejs)_\w+/g),
    ].map((x) => x[0]);
    expect(queried.length).toBeGreaterThan(15);
    expect(queried.filter((n) => !served.has(n))).toEqual([]);
  });

  it('counts a new leader, and no leader while there is none', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    const follower = cluster.nodes.find((h) => h !== leader)!;
    const before = (await scrape(cluster, follower)).get('raftkv_server_leader_changes_seen_total')!;
    await cluster.kill9(leader);
    const next = await cluster.waitLeader(15_000, cluster.running());
    expect(next).not.toBe(leader);
    const m = await scrape(cluster, follower);
    expect(m.get('raftkv_server_has_leader')).toBe(1);
    // One change to the new leader; the moment with no leader is not a change (as in etcd).
    expect(m.get('raftkv_server_leader_changes_seen_total')).toBe(before + 1);
    expect(m.get(`raftkv_network_peer_connected{peer="${leader.id}"}`)).toBe(0);
    // Lose the quorum: the last node soon knows no leader (the "no leader" alert's series).
    const last = cluster.running().find((h) => h !== next)!;
    await cluster.kill9(next);
    await waitFor(async () => (await scrape(cluster!, last)).get('raftkv_server_has_leader') === 0, 10_000, 'has_leader 0 without a quorum');
  });
});
