/**
 * Data lives in the /data volume: containers replaced by new ones on the same named volumes
 * come back with every acknowledged write, in the same cluster (no fresh bootstrap).
 */
import { afterEach, expect, inject, it, onTestFailed } from 'vitest';
import { ContainerCluster } from './cluster.ts';

let cluster: ContainerCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

it('keeps its data when every container is replaced by a new one on the same volume', async () => {
  const c = await ContainerCluster.start({ image: inject('raftkvImage'), volumes: true });
  cluster = c;
  onTestFailed(async () => {
    process.stderr.write(`${await c.logs()}\n`);
  });
  const leader = await c.waitForLeader();
  for (let i = 0; i < 50; i++) expect(await c.put(`p${i}`, `v${i}`, leader)).toBe(true);
  const before = await c.view(leader);
  const oldIds = new Map(c.ids.map((id) => [id, c.container(id).getId()]));

  await c.recreate();
  for (const id of c.ids) expect(c.container(id).getId()).not.toBe(oldIds.get(id));
  const next = await c.waitForLeader();
  const after = await c.view(next);
  // A cluster bootstrapped afresh would elect its first leader at term 2, as the old one did,
  // and its log would hold only the bootstrap entries.
  expect(after.term).toBeGreaterThan(before.term);
  expect(after.commit).toBeGreaterThanOrEqual(before.commit);
  for (const id of c.ids) {
    for (let i = 0; i < 50; i++) expect(await c.get(id, `p${i}`)).toBe(`v${i}`);
  }
});
