/**
 * The harness's view of a sharded cluster (`--shards`, issue 13): the slot map as each node
 * reports it (GET /v1/shards), the operator's changes to it (POST /v1/shards/:id/...), and
 * what "recovered" means once there are many groups. Group 0 (the slot map) is what
 * /v1/cluster reports, so the cluster's own health check covers it; this adds the data groups.
 */

import type { ShardList } from '../../test/support/shards.ts';
import { sleep } from '../clock.ts';
import type { ChaosNode } from './node-proc.ts';

export type { ShardInfo, ShardList } from '../../test/support/shards.ts';

export async function shardList(node: ChaosNode, timeoutMs = 1500): Promise<ShardList | undefined> {
  if (!node.running || node.paused) return undefined;
  try {
    const r = await fetch(node.url('/v1/shards'), { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? ((await r.json()) as ShardList) : undefined;
  } catch {
    return undefined;
  }
}

/** How a change ended, as the harness saw it. */
export type ChangeOutcome =
  /** 2xx: done and recorded in the map. */
  | 'done'
  /** 409: the map refused it (stale, impossible, or the node asked does not host the shard). */
  | 'refused'
  /** Any other answer (503: no leader, 500: cut by a fault). */
  | 'failed'
  /** No answer in time: it may still complete. */
  | 'unknown';

export interface ChangeReply {
  outcome: ChangeOutcome;
  status?: number;
  /** The node's reason, or the transport error. */
  message: string;
}

/**
 * POSTs a change to a node's `url`; a node that does not lead the metadata group sends it on to
 * the one that does with a 307, which fetch follows with the same method and body.
 */
export async function postChange(url: string, body: object, timeoutMs: number): Promise<ChangeReply> {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = (await r.text()).slice(0, 300);
    let message = text;
    try {
      const j = JSON.parse(text) as { message?: string; error?: string };
      message = j.message ?? j.error ?? text;
    } catch {
      // Not JSON: the text as it came.
    }
    if (r.ok) return { outcome: 'done', status: r.status, message };
    return { outcome: r.status === 409 ? 'refused' : 'failed', status: r.status, message };
  } catch (err) {
    const e = err as Error;
    return { outcome: e.name === 'TimeoutError' ? 'unknown' : 'failed', message: e.message };
  }
}

/**
 * A sharded cluster has recovered when every member answers with the same map epoch and every
 * shard's leader is known to a replica of it. (A learner left by a move that gave up is allowed:
 * it is a shard with one more replica, not an unavailable one.)
 */
export async function shardsSettled(nodes: readonly ChaosNode[]): Promise<boolean> {
  const views = await Promise.all(nodes.map((n) => shardList(n)));
  if (views.some((v) => v === undefined)) return false;
  const lists = views as ShardList[];
  if (new Set(lists.map((v) => v.epoch)).size !== 1) return false;
  return lists[0].shards.every((s) => lists.some((v) => v.shards.some((x) => x.id === s.id && x.local && x.leader !== null)));
}

/** The map from the first member that answers, retried for a while. */
export async function anyShardList(nodes: readonly ChaosNode[], timeoutMs: number): Promise<ShardList | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const n of nodes) {
      const l = await shardList(n, 1000);
      if (l) return l;
    }
    if (Date.now() > deadline) return undefined;
    await sleep(200);
  }
}
