/**
 * What a peer link logs at the default level (info), over real processes: a normal start says
 * nothing about peer sockets (it was a "peer socket error" per link, and link up/down lines);
 * a peer down longer than an election timeout is one WARN on each node that links to it, and
 * one INFO when it is back.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';

interface Line {
  level: number;
  msg: string;
  peer?: string;
  component?: string;
}

function lines(h: NodeHandle): Line[] {
  return readFileSync(h.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

describe('peer-link logging', () => {
  const cluster = new ClusterHarness({ nodes: 3 });
  let leader: NodeHandle;

  beforeAll(async () => {
    await cluster.start();
    leader = await cluster.waitLeader();
  }, 60_000);
  afterAll(() => cluster.stop());

  it('a normal start logs no peer-link chatter at info or above', () => {
    for (const h of cluster.nodes) {
      const transport = lines(h).filter((l) => l.component === 'transport' && l.level >= 30);
      expect(
        transport.map((l) => l.msg),
        h.id,
      ).toEqual([]);
    }
  });

  it('a peer down past an election timeout: one WARN per node linking to it, one INFO when it is back', async () => {
    const victim = cluster.nodes.find((h) => h.id !== leader.id) as NodeHandle;
    const others = cluster.nodes.filter((h) => h !== victim);
    await cluster.kill9(victim);
    const warns = (h: NodeHandle) => lines(h).filter((l) => l.level === 40 && l.peer === victim.id && l.msg.startsWith('peer unreachable'));
    await waitFor(() => others.every((h) => warns(h).length > 0), 10_000, 'the WARN on both survivors');
    // Redials keep failing (backoff up to 5 s): still one line each.
    await new Promise((r) => setTimeout(r, 3000));
    for (const h of others) {
      expect(warns(h), h.id).toHaveLength(1);
      expect(
        lines(h).filter((l) => l.msg === 'peer socket error' && l.level >= 30),
        h.id,
      ).toEqual([]);
    }
    await cluster.restart(victim);
    const back = (h: NodeHandle) => lines(h).filter((l) => l.level === 30 && l.peer === victim.id && l.msg === 'peer reachable again');
    await waitFor(() => others.every((h) => back(h).length === 1), 20_000, 'the INFO on both survivors');
    for (const h of others) expect(warns(h), h.id).toHaveLength(1);
  }, 60_000);
});
