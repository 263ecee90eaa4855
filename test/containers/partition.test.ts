/**
 * A partition made by disconnecting the leader's container from the cluster network: the
 * isolated old leader stops serving reads and writes (no stale reads), the majority elects a
 * leader and goes on, and after reconnection the old leader follows with the majority's data.
 */
import { afterEach, beforeEach, expect, inject, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/cluster-harness.ts';
import { ContainerCluster } from './cluster.ts';

let cluster: ContainerCluster;

beforeEach(async () => {
  cluster = await ContainerCluster.start({ image: inject('raftkvImage') });
  onTestFailed(async () => {
    process.stderr.write(`${await cluster.logs()}\n`);
  });
});

afterEach(async () => {
  await cluster?.stop();
});

it('isolates the old leader from reads and writes while the majority goes on, then brings it back as a follower', async () => {
  const old = await cluster.waitForLeader();
  expect(await cluster.put('k', 'before', old)).toBe(true);
  const majority = cluster.ids.filter((id) => id !== old);

  await cluster.disconnect(old);
  const cutAt = Date.now();
  const next = await cluster.waitForLeader(majority, 5000, 10);
  process.stderr.write(`partition: ${next} leads the majority ${Date.now() - cutAt} ms after ${old} was cut off\n`);
  expect(await cluster.put('k', 'after', next)).toBe(true);

  // The majority has acknowledged k=after. Whatever the old leader believes about its role, a
  // read there must not answer the value it holds (before), and a write must not succeed.
  const read = await cluster.httpInside(old, 'GET', '/v1/kv/k');
  expect(read.status, read.body).toBe(503);
  expect(read.body).not.toContain('before');
  const write = await cluster.httpInside(old, 'PUT', '/v1/kv/written-in-minority', { value: 'x' });
  expect([503, 504], write.body).toContain(write.status);
  await waitFor(async () => (await cluster.view(old, true)).role !== 'leader', 5000, `${old} to step down`, 100);
  expect((await cluster.httpInside(old, 'GET', '/readyz')).status).toBe(503);

  // The majority keeps serving reads and writes.
  expect(await cluster.put('during', 'partition', next)).toBe(true);
  for (const id of majority) expect(await cluster.get(id, 'k')).toBe('after');

  await cluster.reconnect(old);
  await waitFor(
    async () => {
      const v = await cluster.view(old, true);
      return v.role === 'follower' && v.leader === next;
    },
    10_000,
    `${old} to follow ${next}`,
    100,
  );
  const back = await cluster.httpInside(old, 'GET', '/v1/kv/during');
  expect(back.status, back.body).toBe(200);
  expect(JSON.parse(back.body)).toMatchObject({ value: 'partition' });
  expect(JSON.parse((await cluster.httpInside(old, 'GET', '/v1/kv/k')).body)).toMatchObject({ value: 'after' });
  // The write the old leader appended on its own was never committed and is gone everywhere.
  for (const id of majority) expect(await cluster.get(id, 'written-in-minority')).toBeUndefined();
  expect((await cluster.httpInside(old, 'GET', '/v1/kv/written-in-minority')).status).toBe(404);
});
