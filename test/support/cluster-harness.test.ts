/**
 * The harness's own port race: a port picked free can be taken before the node binds it (by a
 * test file running in parallel). The node exits 2 naming the port, and `start` starts over on
 * fresh ports instead of failing the test that happened to lose the race.
 */
import { createServer } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { ClusterHarness, freePort, type NodeHandle } from './cluster-harness.ts';

const busy = createServer();
let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  busy.close();
});

it('starts over on fresh ports when a node finds its port taken', async () => {
  const taken = await freePort();
  await new Promise<void>((r) => busy.listen(taken, '127.0.0.1', () => r()));
  let first = true;
  class Racy extends ClusterHarness {
    override async allocate(id: string, pathSuffix = ''): Promise<NodeHandle> {
      const h = await super.allocate(id, pathSuffix);
      if (id === 'n2' && first) {
        first = false;
        return { ...h, httpPort: taken };
      }
      return h;
    }
  }
  cluster = new Racy();
  await cluster.start();
  expect(cluster.nodes.map((h) => h.httpPort)).not.toContain(taken);
  await cluster.waitLeader();
}, 90_000);
