/**
 * RSS with N keys (16-byte keys, 100-byte values) in every RaftKV node versus redis-server.
 * Both are loaded with the same pipelined MSET batches; RaftKV's followers are measured once
 * they have applied everything the leader committed.
 */
import type { ClusterHarness } from '../support/cluster-harness.ts';
import { cpuSeconds, rssBytes, sleep } from './procs.ts';
import { encodeCommand, RespClient } from './resp-client.ts';

const BATCH = 1000;
const IN_FLIGHT = 4;

export class LoadReplyError extends Error {
  constructor(reply: Error) {
    super(`MSET failed: ${reply.message}`);
  }
}

export async function loadKeys(port: number, keys: number): Promise<void> {
  const c = await RespClient.connect(port);
  const value = Buffer.alloc(100, 'v');
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < keys; i += BATCH) {
    const args: (string | Buffer)[] = ['MSET'];
    for (let k = i; k < Math.min(keys, i + BATCH); k++) args.push(`k:${String(k).padStart(14, '0')}`, value);
    const p = c.sendRaw(encodeCommand(args)).then((r) => {
      if (r instanceof Error) throw new LoadReplyError(r);
      inflight.delete(p);
    });
    inflight.add(p);
    if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  c.close();
}

export interface MemoryResult {
  keys: number;
  raftkvRssMiB: Record<string, number>;
  redisRssMiB: number;
}

export async function raftkvRss(h: ClusterHarness, keys: number): Promise<Record<string, number>> {
  const leader = await h.waitLeader();
  const cpu = () => h.nodes.map((n) => cpuSeconds(n.proc!.pid!));
  const cpuBefore = cpu();
  await loadKeys(leader.port, keys);
  const target = (await h.status(leader))!.commit;
  for (let i = 0; i < 600; i++) {
    const sts = await Promise.all(h.nodes.map((n) => h.status(n)));
    if (sts.every((s) => s && s.applied >= target)) break;
    await sleep(100);
  }
  // What the load cost each node (GC included, which is what heap settings trade against RSS).
  const perKey = cpu().map((c, i) => `${h.nodes[i]!.id} ${(((c.user + c.system - cpuBefore[i]!.user - cpuBefore[i]!.system) * 1e6) / keys).toFixed(1)}`);
  console.log(`[memory] CPU us per key loaded (user+system): ${perKey.join(', ')}`);
  // Let the collector settle so RSS reflects retained data, not the last batch's garbage.
  await sleep(2000);
  const out: Record<string, number> = {};
  for (const n of h.nodes) out[n.id] = (await rssBytes(n.proc!.pid!)) / 2 ** 20;
  return out;
}

export async function redisRss(port: number, pid: number, keys: number): Promise<number> {
  await loadKeys(port, keys);
  await sleep(500);
  return (await rssBytes(pid)) / 2 ** 20;
}
