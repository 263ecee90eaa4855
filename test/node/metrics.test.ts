/**
 * NodeMetrics alone (src/node/metrics.ts): the gauges read their MetricsSource when scraped,
 * not when built, so a scrape shows the node as it is then.
 */
import { describe, expect, it } from 'vitest';
import { NodeMetrics } from '../../src/node/metrics.ts';

describe('NodeMetrics', () => {
  it('reads the node at scrape time', async () => {
    const s = { keys: 0, term: 1, leader: false };
    const metrics = new NodeMetrics({
      keys: () => s.keys,
      usedMemory: () => 4096,
      term: () => s.term,
      commit: () => 7,
      applied: () => 6,
      isLeader: () => s.leader,
      links: () => ({ n2: { state: 'connected' }, n3: { state: 'backoff' } }),
    });
    Object.assign(s, { keys: 3, term: 5, leader: true });
    const text = await metrics.registry.metrics();
    for (const line of [
      'raftkv_keys 3',
      'raftkv_used_memory_bytes 4096',
      'raftkv_term 5',
      'raftkv_commit_index 7',
      'raftkv_applied_index 6',
      'raftkv_is_leader 1',
      'raftkv_peer_connected{peer="n2"} 1',
      'raftkv_peer_connected{peer="n3"} 0',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
  });
});
