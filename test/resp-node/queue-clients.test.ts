/**
 * A job queue on lists (issue 14), the pattern BullMQ and Sidekiq build on, driven by real
 * cluster clients against a live 3-node cluster, entered through followers: ioredis `Cluster`
 * producers LPUSH jobs; consumers race to take them, two with RPOP and two (node-redis
 * `createCluster`) with the reliable form, LMOVE into a processing list, then LREM once done.
 * Every job must be taken exactly once, none lost, the processing list empty at the end, and
 * every replica must hold the same lists.
 */
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle } from '../support/cluster-harness.ts';
import { replicasAgree } from './support/replicas-agree.ts';

const cluster = new ClusterHarness({ nodes: 3 });
let followers: NodeHandle[];
const closers: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  await cluster.start();
  const leader = await cluster.waitLeader();
  followers = cluster.nodes.filter((h) => h !== leader);
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await cluster.stop();
});

const JOBS = 600;
const QUEUE = '{q}jobs';
const PROCESSING = '{q}processing';

describe('a job queue on lists through real cluster clients', () => {
  it('LPUSH producers, RPOP and LMOVE+LREM consumers: every job taken exactly once, replicas identical', async () => {
    const io = new Cluster([{ host: '127.0.0.1', port: followers[0].port }]);
    closers.push(() => io.disconnect());
    const nr = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${followers[1].port}` }] });
    nr.on('error', () => {});
    await nr.connect();
    closers.push(() => nr.destroy());

    const taken: string[] = [];
    let produced = 0;
    const producer = async (id: number) => {
      for (let i = 0; i < JOBS / 2; i += 10) {
        const batch = Array.from({ length: 10 }, (_, j) => `job:${id}:${i + j}`);
        const len = await io.lpush(QUEUE, ...batch);
        expect(len).toBeGreaterThanOrEqual(10);
        produced += batch.length;
      }
    };
    const done = () => produced === JOBS && taken.length >= JOBS;
    const byConsumer: string[][] = [];
    const popper = async () => {
      const mine: string[] = [];
      byConsumer.push(mine);
      while (!done()) {
        const jobs = await io.rpop(QUEUE, 3);
        if (jobs === null) await new Promise((r) => setTimeout(r, 2));
        else {
          taken.push(...jobs);
          mine.push(...jobs);
        }
      }
    };
    const reliable = async () => {
      const mine: string[] = [];
      byConsumer.push(mine);
      while (!done()) {
        const job = await nr.lMove(QUEUE, PROCESSING, 'RIGHT', 'LEFT');
        if (job === null) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        taken.push(job);
        mine.push(job);
        expect(await nr.lRem(PROCESSING, 1, job)).toBe(1);
      }
    };
    await Promise.all([producer(1), producer(2), popper(), popper(), reliable(), reliable()]);

    expect(taken).toHaveLength(JOBS);
    expect(new Set(taken).size).toBe(JOBS);
    for (const id of [1, 2]) for (let i = 0; i < JOBS / 2; i++) expect(taken).toContain(`job:${id}:${i}`);
    // The queue is FIFO: what one consumer takes of one producer's jobs comes in push order.
    for (const mine of byConsumer) {
      for (const id of [1, 2]) {
        const seq = mine.filter((j) => j.startsWith(`job:${id}:`)).map((j) => Number(j.split(':')[2]));
        expect(seq).toEqual([...seq].sort((a, b) => a - b));
      }
    }
    expect(await io.llen(QUEUE)).toBe(0);
    expect(await nr.lLen(PROCESSING)).toBe(0);
    expect(await io.exists(QUEUE, PROCESSING)).toBe(0);

    // Every replica applied the same pushes and pops: the same lists (none), the same queue
    // after one more push through the other follower.
    expect(await io.rpush(QUEUE, 'tail:a', 'tail:b')).toBe(2);
    const view = await replicasAgree(
      cluster.nodes,
      [
        ['lrange', QUEUE, '0', '-1'],
        ['exists', PROCESSING],
      ],
      'queue',
      (v) => v.includes('tail:b'),
    );
    expect(view).toBe('*2\r\n$6\r\ntail:a\r\n$6\r\ntail:b\r\n|:0\r\n');
  }, 120_000);
});
