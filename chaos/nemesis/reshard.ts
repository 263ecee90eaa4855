/**
 * The `reshard` nemesis (issue 13): online shard changes while the other nemeses strike. Each
 * time it is drawn it asks for one change, at random:
 *
 *  - split: a data shard splits at a random slot inside its (last) range;
 *  - move-replica: a random voter of a data shard moves to a node that lacks the shard;
 *  - transfer-leader: a shard (group 0, the slot map, included) gets another voter as leader.
 *
 * The change is sent as an operator would (POST /v1/shards/..., to the metadata group's leader)
 * and is not waited for: a move takes seconds to minutes (learner, snapshot, promote, remove),
 * so it runs on into the next faults (a kill of the node running it, a partition of the learner).
 * Its window is the moment it was asked for; its outcome is logged when it ends and reported in
 * summary.json. A refusal (409: stale epoch, impossible change, the metadata leader does not
 * host the shard) or a change cut by a fault is the cluster's right answer, not a failed run:
 * the run is judged by its history and its recovery alone.
 *
 * Splits and moves go mostly (80%) to shards the metadata leader hosts, since a change runs
 * there (src/node/store/changes.ts) and the others are refused; the rest are asked anyway. Only
 * one split or move is in flight at a time (each node runs its changes one at a time, so a
 * second would queue behind a slow move); meanwhile the nemesis moves leaders.
 */
import { elapsed } from '../clock.ts';
import type { ChaosNode } from '../cluster/node-proc.ts';
import { anyShardList, type ChangeOutcome, postChange, type ShardInfo, type ShardList } from '../cluster/shards.ts';
import type { Random } from '../random.ts';
import type { Fault, NemesisContext } from './nemeses.ts';

export const SHARD_CHANGES = ['split', 'move-replica', 'transfer-leader'] as const;
export type ShardChangeKind = (typeof SHARD_CHANGES)[number];

/** Splits stop here, so a long run does not end with a group per handful of slots. */
const MAX_DATA_SHARDS = 12;

/** How long the harness waits for each kind's answer (a move waits for catch-up: 120 s at most). */
const ANSWER_MS: Record<ShardChangeKind, number> = { split: 60_000, 'move-replica': 150_000, 'transfer-leader': 20_000 };

export interface ShardChange {
  kind: ShardChangeKind;
  shard: number;
  detail: string;
  /** A move's source node. */
  from?: string;
  /** The node asked (it forwards to the metadata leader if it is not that). */
  via: string;
  /** Run clock: asked, answered. */
  start: number;
  end?: number;
  outcome?: ChangeOutcome;
  status?: number;
  message?: string;
}

/** Every change asked for in a run, and those still in flight. */
export class ShardChanges {
  readonly log: ShardChange[] = [];
  private readonly pending = new Set<Promise<void>>();
  private slow = 0;

  /** Whether a move that succeeded took `node`'s replica of `shard` away. */
  movedAway(shard: number, node: string): boolean {
    return this.log.some((c) => c.kind === 'move-replica' && c.outcome === 'done' && c.shard === shard && c.from === node);
  }

  /** A split or a move is in flight. */
  get busy(): boolean {
    return this.slow > 0;
  }

  track(change: ShardChange, reply: ReturnType<typeof postChange>, log: (line: string) => void): void {
    this.log.push(change);
    const slow = change.kind !== 'transfer-leader';
    if (slow) this.slow++;
    const p = reply.then((r) => {
      change.end = elapsed();
      change.outcome = r.outcome;
      if (r.status !== undefined) change.status = r.status;
      change.message = r.message;
      if (slow) this.slow--;
      this.pending.delete(p);
      const took = ((change.end - change.start) / 1000).toFixed(1);
      log(`reshard ${change.kind} ${change.detail}: ${r.outcome}${r.status ? ` (${r.status})` : ''} after ${took} s: ${r.message}`);
    });
    this.pending.add(p);
  }

  /**
   * Waits for the changes in flight to be answered, at most `timeoutMs`; true if all were. A
   * move still catching up is left running: recovery and the final reads go on around it.
   */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.all([...this.pending]), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    }
    return this.pending.size === 0;
  }

  /** `{ split: { done: 3, refused: 1 }, ... }`, for the summary and the log. */
  counts(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const c of this.log) {
      out[c.kind] ??= {};
      const by = out[c.kind];
      const o = c.outcome ?? 'pending';
      by[o] = (by[o] ?? 0) + 1;
    }
    return out;
  }
}

/** What planning a change reads: the random stream, the members, the changes so far. */
export interface PlanHost {
  readonly rnd: Random;
  readonly members: readonly string[];
  readonly changes: ShardChanges;
}

export interface Plan {
  kind: ShardChangeKind;
  shard: ShardInfo;
  path: string;
  body: object;
  detail: string;
  nodes: string[];
  from?: string;
}

function planSplit(ctx: PlanHost, shard: ShardInfo): Plan | undefined {
  const last = shard.slots.at(-1);
  if (!last || last[1] <= last[0]) return undefined;
  const slot = ctx.rnd.int(last[0] + 1, last[1]);
  return { kind: 'split', shard, path: `/v1/shards/${shard.id}/split`, body: { slot }, detail: `shard ${shard.id} at slot ${slot}`, nodes: [...shard.voters] };
}

function planMove(ctx: PlanHost, shard: ShardInfo): Plan | undefined {
  const lacking = ctx.members.filter((m) => !shard.voters.includes(m) && !shard.learners.includes(m));
  if (lacking.length === 0 || shard.voters.length === 0) return undefined;
  const from = ctx.rnd.pick(shard.voters);
  // A node the shard was moved away from cannot host it again (docs/chaos.md, "Findings"): the
  // move gives up after 120 s with a learner left in the map. Mostly spare such nodes, so that
  // a run's moves and splits are not all spent waiting for it.
  const fresh = lacking.filter((m) => !ctx.changes.movedAway(shard.id, m));
  const to = ctx.rnd.pick(fresh.length > 0 && ctx.rnd.chance(0.75) ? fresh : lacking);
  return {
    kind: 'move-replica',
    shard,
    path: `/v1/shards/${shard.id}/move-replica`,
    body: { from, to },
    detail: `shard ${shard.id} from ${from} to ${to}`,
    nodes: [from, to],
    from,
  };
}

function planTransfer(ctx: PlanHost, list: ShardList): Plan | undefined {
  const shard = ctx.rnd.pick(list.shards);
  const others = shard.voters.filter((v) => v !== shard.leader_hint && v !== shard.leader);
  if (others.length === 0) return undefined;
  const node = ctx.rnd.pick(others);
  return {
    kind: 'transfer-leader',
    shard,
    path: `/v1/shards/${shard.id}/transfer-leader`,
    body: { node },
    detail: `shard ${shard.id} to ${node}`,
    nodes: [node],
  };
}

/** A data shard for a split or a move: mostly one the metadata leader hosts (see above). */
function pickShard(ctx: PlanHost, list: ShardList, metaLeader: string | null): ShardInfo | undefined {
  const data = list.shards.filter((s) => s.role === 'data');
  const hosted = data.filter((s) => metaLeader !== null && s.voters.includes(metaLeader));
  const pool = hosted.length > 0 && ctx.rnd.chance(0.8) ? hosted : data;
  return pool.length > 0 ? ctx.rnd.pick(pool) : undefined;
}

/** The change to ask for in map `list`, or undefined when there is none to make. */
export function plan(ctx: PlanHost, list: ShardList, metaLeader: string | null): Plan | undefined {
  const busy = ctx.changes.busy;
  const dataShards = list.shards.filter((s) => s.role === 'data').length;
  const kinds: ShardChangeKind[] = busy ? [] : ctx.rnd.shuffle(dataShards < MAX_DATA_SHARDS ? ['split', 'move-replica'] : ['move-replica']);
  // While none is in flight, splits and moves share 80% of the draws; leaders move otherwise.
  if (kinds.length > 0 && ctx.rnd.chance(0.2)) kinds.length = 0;
  for (const kind of kinds) {
    const shard = pickShard(ctx, list, metaLeader);
    const p = shard && (kind === 'split' ? planSplit(ctx, shard) : planMove(ctx, shard));
    if (p) return p;
  }
  return planTransfer(ctx, list);
}

const reachable = (n: ChaosNode) => n.running && !n.paused;

export async function reshard(ctx: NemesisContext): Promise<Fault> {
  const changes = ctx.changes;
  const up = ctx.cluster.memberNodes().filter(reachable);
  const list = await anyShardList(ctx.rnd.shuffle(up), 5000);
  if (!list) throw new Error('no member answered GET /v1/shards');
  const metaLeader = list.shards.find((s) => s.role === 'metadata')?.leader ?? null;
  const p = plan({ rnd: ctx.rnd, members: ctx.cluster.members, changes }, list, metaLeader);
  if (!p) throw new Error(`nothing to change in map epoch ${list.epoch}`);
  // Asked of the metadata leader when it can be reached; any member forwards it there (307).
  const leaderNode = metaLeader !== null ? ctx.cluster.all.get(metaLeader) : undefined;
  const via = leaderNode && reachable(leaderNode) ? leaderNode : ctx.rnd.pick(up);
  const change: ShardChange = { kind: p.kind, shard: p.shard.id, detail: p.detail, ...(p.from ? { from: p.from } : {}), via: via.id, start: elapsed() };
  changes.track(change, postChange(via.url(p.path), p.body, ANSWER_MS[p.kind]), ctx.log);
  return {
    nemesis: 'reshard',
    kind: p.kind,
    detail: `${p.detail} (epoch ${list.epoch}, via ${via.id})`,
    nodes: p.nodes,
    // Nothing to undo: a change that completes is the new normal. It may still be running;
    // the run waits a while for it before it checks recovery.
    heal: async () => {},
  };
}
