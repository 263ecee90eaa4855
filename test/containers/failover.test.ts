/**
 * A 3-node cluster of containers: clients write and read through any node, and losing the
 * leader container (clean stop or SIGKILL) costs neither availability for long nor any
 * acknowledged write.
 */
import { afterEach, beforeEach, describe, expect, inject, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/cluster-harness.ts';
import { ContainerCluster } from './cluster.ts';
import { Writer } from './writer.ts';

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

async function expectAllAcked(writer: Writer, nodes: string[]): Promise<void> {
  for (const id of nodes) {
    for (const key of writer.acked) expect(await cluster.get(id, key), `${key} on ${id}`).toBe(Writer.valueOf(key));
  }
}

describe('a 3-node cluster in containers', () => {
  it('accepts writes through any node and serves the same data from every node', async () => {
    const leader = await cluster.waitForLeader();
    for (const id of cluster.ids) {
      expect(await cluster.put(`written-via-${id}`, id, id)).toBe(true);
    }
    const follower = cluster.ids.find((id) => id !== leader) as string;
    const redirect = await cluster.http(follower, 'PUT', '/v1/kv/x', { value: 'y' });
    expect(redirect.status).toBe(307);
    expect(redirect.body).toContain(`"leader":"${leader}"`);
    for (const reader of cluster.ids) {
      for (const writer of cluster.ids) expect(await cluster.get(reader, `written-via-${writer}`)).toBe(writer);
    }
  });

  for (const how of ['stop', 'kill'] as const) {
    it(`elects a new leader within 2 s of the leader container's ${how} and loses no acknowledged write`, async () => {
      const leader = await cluster.waitForLeader();
      const writer = new Writer(cluster, 'w');
      await waitFor(() => writer.acked.length >= 30, 15_000, '30 acknowledged writes');

      const requestedAt = Date.now();
      if (how === 'stop') await cluster.stopNode(leader);
      else await cluster.killNode(leader);
      const detectedAt = Date.now();
      const survivors = cluster.running();
      const next = await cluster.waitForLeader(survivors, 2000, 10);
      const now = Date.now();
      process.stderr.write(
        `${how}: ${next} leads ${now - detectedAt} ms after ${leader}'s container was gone (${now - requestedAt} ms after the ${how} request)\n`,
      );
      expect(next).not.toBe(leader);

      const before = writer.acked.length;
      await waitFor(() => writer.acked.length >= before + 30, 15_000, '30 writes acknowledged by the new leader');
      await writer.stop();
      await expectAllAcked(writer, survivors);
    });
  }
});
