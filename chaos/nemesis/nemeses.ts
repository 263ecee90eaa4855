/**
 * The nemeses. Each `start` injects one fault and returns how to heal it; the scheduler holds
 * the fault for a while, heals it, and records the window.
 */
import { writeFileSync } from 'node:fs';
import type { ChaosCluster } from '../cluster/cluster.ts';
import type { ChaosNode } from '../cluster/node-proc.ts';
import type { Random } from '../random.ts';
import type { LoadRunner } from '../workload/runner.ts';
import { makePartition, PARTITIONS } from './partition.ts';
import { reshard, type ShardChanges } from './reshard.ts';

export const NEMESES = ['partition', 'kill', 'pause', 'membership', 'clock', 'power', 'reshard'] as const;
export type NemesisName = (typeof NEMESES)[number];

export interface NemesisContext {
  cluster: ChaosCluster;
  load: LoadRunner;
  rnd: Random;
  /** The clock nemesis's bound on any node's offset, in ms. */
  maxSkewMs: number;
  /** The reshard nemesis's changes, in flight and done (reshard.ts). */
  changes: ShardChanges;
  log: (line: string) => void;
}

export interface Fault {
  nemesis: NemesisName;
  kind: string;
  detail: string;
  nodes: string[];
  heal(): Promise<void>;
}

type Start = (ctx: NemesisContext) => Promise<Fault>;

/** Up to a minority of the members, including the leader with probability `pLeader`. */
async function victims(ctx: NemesisContext, pLeader: number): Promise<ChaosNode[]> {
  const members = ctx.cluster.memberNodes();
  const leader = await ctx.cluster.leader();
  const count = ctx.rnd.int(1, Math.max(1, Math.floor((members.length - 1) / 2)));
  const pool = ctx.rnd.shuffle(members.filter((m) => m !== leader));
  const chosen = leader && ctx.rnd.chance(pLeader) ? [leader, ...pool] : pool;
  return chosen.slice(0, count);
}

const ids = (nodes: readonly ChaosNode[]) => nodes.map((n) => n.id);

/** Restarts what is down (an overlapping fault may have restarted some already). */
async function restart(ctx: NemesisContext, nodes: readonly ChaosNode[]): Promise<void> {
  const down = nodes.filter((n) => !n.running);
  for (const n of down) n.start();
  await Promise.all(down.map((n) => n.waitHttp(60_000).catch((err: Error) => ctx.log(`restart: ${err.message}`))));
}

const partition: Start = async (ctx) => {
  const leader = await ctx.cluster.leader();
  const p = makePartition(ctx.rnd.pick(PARTITIONS), ctx.cluster.members, leader?.id, ctx.rnd);
  ctx.cluster.partition(p.cuts);
  return { nemesis: 'partition', kind: p.kind, detail: p.detail, nodes: p.nodes, heal: async () => ctx.cluster.heal() };
};

const kill: Start = async (ctx) => {
  const down = await victims(ctx, 0.5);
  await Promise.all(down.map((n) => n.kill9()));
  return {
    nemesis: 'kill',
    kind: 'kill -9',
    detail: `killed ${ids(down).join(' ')}`,
    nodes: ids(down),
    heal: () => restart(ctx, down),
  };
};

/**
 * SIGSTOP of 1 to a minority. Half the time the paused nodes are also deaf (the others' Raft
 * messages to them dropped) until the probes after SIGCONT are answered: otherwise what the
 * others sent during the pause waits in a paused old leader's sockets and deposes it before it
 * reads a probe, which hides a lease that outlived the pause (issue 11, hole 2; a lease counted
 * in ticks did). Healing a deaf pause flushes every cut, so with --overlap it also lifts a
 * partition in force early.
 */
const pause: Start = async (ctx) => {
  const stopped = await victims(ctx, 0.6);
  for (const n of stopped) n.pause();
  const deaf = ctx.rnd.chance(0.5);
  if (deaf) {
    const paused = new Set(ids(stopped));
    const others = ctx.cluster.members.filter((m) => !paused.has(m));
    ctx.cluster.partition(ids(stopped).flatMap((v) => others.map((o) => ({ from: o, to: v, mode: 'messages' as const }))));
  }
  return {
    nemesis: 'pause',
    kind: deaf ? 'SIGSTOP, deaf' : 'SIGSTOP',
    detail: `paused ${ids(stopped).join(' ')}${deaf ? ', hearing no peer until probed' : ''}`,
    nodes: ids(stopped),
    heal: async () => {
      // Reads go to each node the instant it wakes: an old leader must not answer them from its
      // stale state before it learns that it was deposed.
      const fire = await Promise.all(stopped.map((n) => ctx.load.prepareProbe(n)));
      for (const n of stopped) n.resume();
      await Promise.all(fire.map((f) => f()));
      if (deaf) ctx.cluster.heal();
    },
  };
};

const membership: Start = async (ctx) => {
  const [victim] = await victims(ctx, 0.3);
  await ctx.cluster.removeMember(victim.id, 20_000);
  return {
    nemesis: 'membership',
    kind: 'remove + add',
    detail: `removed ${victim.id}`,
    nodes: [victim.id],
    heal: async () => {
      const fresh = await ctx.cluster.addFreshMember(60_000);
      ctx.log(`membership: ${fresh.id} joined in place of ${victim.id}`);
    },
  };
};

/**
 * Power loss: kill -9, then the node's disk loses every write it did not fsync (a minority of
 * the nodes, or now and then all of them at once: acknowledged writes were fsynced on a
 * majority, so they must survive even that).
 */
const power: Start = async (ctx) => {
  const down = ctx.rnd.chance(0.25) ? ctx.cluster.memberNodes() : await victims(ctx, 0.5);
  await Promise.all(down.map((n) => n.kill9()));
  for (const n of down) ctx.cluster.loseUnsynced(n.id);
  return {
    nemesis: 'power',
    kind: down.length === ctx.cluster.members.length ? 'all nodes' : 'power cut',
    detail: `lost un-fsynced writes of ${ids(down).join(' ')}`,
    nodes: ids(down),
    heal: () => restart(ctx, down),
  };
};

/** libfaketime's offset file syntax: `+1.250` or `-0.400` seconds. */
export function offsetText(ms: number): string {
  return `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(3)}\n`;
}

const clock: Start = async (ctx) => {
  const members = ctx.cluster.memberNodes();
  const skewed = ctx.rnd.shuffle(members).slice(0, ctx.rnd.int(1, members.length));
  const offsets = skewed.map((n) => {
    const ms = ctx.rnd.int(-ctx.maxSkewMs, ctx.maxSkewMs);
    const file = n.spec.clock?.file;
    if (!file) throw new Error('the clock nemesis needs nodes started with libfaketime');
    writeFileSync(file, offsetText(ms));
    return `${n.id}${ms >= 0 ? '+' : ''}${ms}ms`;
  });
  return {
    nemesis: 'clock',
    kind: 'skew',
    detail: offsets.join(' '),
    nodes: ids(skewed),
    heal: async () => {
      for (const n of skewed) if (n.spec.clock) writeFileSync(n.spec.clock.file, offsetText(0));
    },
  };
};

export const NEMESIS_TABLE: Record<NemesisName, Start> = { partition, kill, pause, membership, clock, power, reshard };
