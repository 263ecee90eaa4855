/**
 * One seeded multi-group run (issue 13; `npm run sim -- --groups G`): N nodes (3 to 5) start
 * with the slot map of G data groups that `initialLayout` gives (`--shards G`), every group's
 * replicas seeded from its share of the slots; clients route by the map; the schedule mixes
 * the single-group runs' partitions, crashes, snapshots and storms with splits, leader
 * transfers and replica moves of random groups. After every step each group's Raft safety
 * properties (invariants.ts) and the key ownership (ownership.ts) are checked; at the end every
 * fault heals, every group must commit a new write on every member and finish its cleanup
 * (liveness), each key is read once more from its owner, and the history must be linearizable
 * per key across groups.
 */
import { KvStore, keyHashSlot } from '../../../src/kv/index.ts';
import { groupOfSlot, initialLayout } from '../../../src/shard/index.ts';
import { checkLinearizability, formatCounterexample } from '../../support/linearizability.ts';
import { Invariant, InvariantViolation } from '../invariants.ts';
import { LIVENESS_WINDOW } from '../liveness.ts';
import { PartitionShape } from '../network.ts';
import { mixSeed, Prng } from '../prng.ts';
import type { RunOptions } from '../run-options.ts';
import { describeFault, describeProfile, ELECTION_TICK, type Fault, makeProfile, type Profile, type ScheduledFault, TICK } from '../schedule.ts';
import type { RunResult, Violation } from '../simulation.ts';
import { TraceKind as K } from '../trace.ts';
import { GroupClients } from './clients.ts';
import { type GroupId, imageBytes, imageHash, seedDigest, seededDisk } from './replicas.ts';
import { Reshard } from './reshard.ts';
import { GroupWorld } from './world.ts';

const ELECTION = ELECTION_TICK * TICK;
const enc = new TextEncoder();

export interface GroupProfile extends Profile {
  /** Data groups of the initial map. */
  groups: number;
  /** Creation seqs each cleanup entry walks after a split. */
  dropLimit: number;
  /** Time units before a split applied on the parent's leader is recorded in the map. */
  recordDelay: number;
}

/** The single-group profile's Raft, network and disk choices, with the multi-group run's cluster and clients. */
export function groupProfile(opts: RunOptions): GroupProfile {
  const rng = new Prng(mixSeed(opts.seed, 11));
  const nodes = opts.nodes ?? rng.pick([3, 4, 4, 5]);
  const base = makeProfile(opts.seed, nodes, opts.readMode);
  return {
    ...base,
    // TTL keys need perfect clocks and eviction adds indeterminate deletes: registers and counters only.
    ttlKeys: 0,
    maxmemory: 0,
    keys: rng.int(4, 10),
    counterKeys: rng.pick([0, 1, 2]),
    groups: opts.groups ?? 3,
    dropLimit: rng.pick([1, 4, 64]),
    recordDelay: rng.pick([0, 50, 200, 600]),
    ...(opts.calm ? { weather: { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 3, slow: 0, longDelay: 0 } } : {}),
    ...(opts.clients !== undefined ? { clients: opts.clients } : {}),
    ...(opts.noAutoSnapshots ? { snapshotEvery: 0 } : {}),
    ...(opts.wholeLogInMemory ? { logMemoryEntries: Number.POSITIVE_INFINITY } : {}),
  };
}

const SHAPES = Object.values(PartitionShape);

/** Faults from time 0 up to `horizon`, each with its own salt (so shrinking keeps their meaning). */
export function groupSchedule(seed: number, profile: Profile, horizon: number): ScheduledFault[] {
  const rng = new Prng(mixSeed(seed, 12));
  const out: ScheduledFault[] = [];
  let at = rng.int(2 * ELECTION, 4 * ELECTION);
  while (at < horizon) {
    const roll = rng.float();
    let fault: Fault;
    if (roll < 0.18) fault = { kind: 'partition', shape: rng.pick(SHAPES), duration: rng.int(ELECTION, 8 * ELECTION) };
    else if (roll < 0.32) {
      const downtime = rng.chance(0.5) ? rng.int(1, 3 * TICK) : rng.int(TICK, 6 * ELECTION);
      fault = { kind: 'crash', target: rng.chance(0.5) ? 'leader' : 'any', torn: false, downtime };
    } else if (roll < 0.37) fault = { kind: 'snapshot', target: 'any', tail: rng.pick([0, 1, 5]) };
    else if (roll < 0.43) {
      const weather = { drop: rng.pick([0.1, 0.3]), duplicate: rng.pick([0, 0.1]), minDelay: 1, maxDelay: rng.pick([10, 40]), slow: 0.05, longDelay: 100 };
      fault = { kind: 'weather', weather, duration: rng.int(ELECTION, 5 * ELECTION) };
    } else if (roll < 0.62) fault = { kind: 'split' };
    else if (roll < 0.8) fault = { kind: 'transfer' };
    else fault = { kind: 'move-replica' };
    out.push({ n: out.length, at, fault, salt: rng.u32() });
    at += rng.int(Math.floor(profile.faultGap / 4), 2 * profile.faultGap);
  }
  return out;
}

export async function runGroupsSeed(opts: RunOptions): Promise<RunResult> {
  const profile = groupProfile(opts);
  const faults = groupSchedule(opts.seed, profile, opts.steps * 4);
  const world = new GroupWorld(profile, opts.seed, opts.trace ?? false);
  const ids = Array.from({ length: profile.nodes }, (_, i) => `n${i + 1}`);
  for (const id of ids) world.addHost(id);
  const map = initialLayout(ids, profile.groups, 3);
  let reshard: Reshard | undefined;
  const clients = new GroupClients(
    {
      clients: profile.clients,
      keys: profile.keys,
      counterKeys: profile.counterKeys,
      timeout: 2 * ELECTION,
      think: 10,
      readUnowned: opts.mutate === 'read-unowned',
    },
    new Prng(mixSeed(opts.seed, 5)),
    {
      get time() {
        return world.time;
      },
      hosts: world.hosts,
      map: () => reshard?.map ?? map,
      later: (delay, ev) => world.later(delay, ev),
      trace: (line) => world.trace(K.Client, line),
    },
  );
  const rs = new Reshard(
    world,
    map,
    clients.keys.map((k) => keyHashSlot(k)),
    profile.dropLimit,
    profile.groups + 6,
    profile.recordDelay,
    opts.mutate,
  );
  reshard = rs;
  world.listener = {
    applied: (group, host, r, e) => rs.applied(group, host, r, e),
    kvApplied: (group, r, index, entry, results) => rs.kvApplied(group, r, index, entry, results),
    confChanged: (group, conf) => rs.confChanged(group, conf),
    ticked: (host) => rs.ticked(host),
    crashed: (node, group) => clients.crashed(node, group),
  };
  world.others = (ev) => {
    if (ev.kind === 'client') clients.act(ev.client);
    else if (ev.kind === 'timeout') clients.timeout(ev.op);
    else if (ev.kind === 'move') rs.moveStep(ev.move, ev.k);
    else if (ev.kind === 'fault' && !world.healing) {
      const sf = ev.fault;
      const note = (text: string) => world.trace(K.Fault, `fault #${sf.n} ${describeFault(sf.fault)}: ${text}`);
      if (!world.applyFault(sf, note)) rs.run(sf, note);
    }
  };

  let violation: Violation | undefined;
  try {
    // Every group of the layout starts from its share of the slots, as seedGroup writes it.
    for (const g of map.groups) {
      if (g.id === 0) continue;
      const range = map.ranges.find((r) => r.group === g.id)!;
      const data = await imageBytes(new KvStore({ slots: [[range.start, range.end]], countSlots: true }).beginSnapshot());
      const conf = { voters: [...g.voters], learners: [] };
      const state = world.group(g.id, conf, 1);
      for (const id of g.voters) {
        state.monitor.snapshotTaken(id, 1, seedDigest(data), imageHash(data));
        world.addReplica(world.hosts.get(id)!, g.id, seededDisk(1, 1, conf, data));
      }
    }
    for (const f of faults) if (!opts.skipFaults?.has(f.n)) world.queue.push(f.at, { kind: 'fault', fault: f });
    clients.start();
    const layout = map.ranges.map((r) => `g${r.group}:${r.start}-${r.end}@${map.groups.find((g) => g.id === r.group)!.voters.join(',')}`).join(' ');
    world.trace(
      K.Cluster,
      `boot ${profile.nodes} nodes, ${profile.groups} groups (${layout}), keys ${clients.keys.join(',')}, record delay ${profile.recordDelay}, cleanup limit ${profile.dropLimit}: ${describeProfile(profile)}`,
    );
    while (world.step < opts.steps) await world.next();
    world.healAll();
    await awaitGroupsLive(world, rs);
    clients.close();
    // Each key once more from the group owning it now, on its most advanced replica (every
    // member applied the group's liveness write, so it holds every acknowledged write).
    for (const key of clients.keys) {
      const group = rs.owners.ownerOf(keyHashSlot(key));
      const replicas = [...world.hosts.values()].map((h) => h.replicas.get(group)).filter((r) => r?.up);
      const r = replicas.reduce((a, b) => (b!.applied > a!.applied ? b : a))!;
      const v = r.kv!.get(enc.encode(key), r.now());
      clients.finalRead(key, v === null ? null : Buffer.from(v).toString());
    }
    const result = checkLinearizability(clients.history);
    if (!result.ok) throw new InvariantViolation(Invariant.Linearizability, `\n${formatCounterexample(result.counterexample!)}`);
  } catch (e) {
    const v = e instanceof InvariantViolation ? e : new InvariantViolation(Invariant.CoreError, describeError(e));
    violation = { invariant: v.invariant, message: v.message.slice(v.invariant.length + 2), step: world.step, time: world.time };
    world.trace(K.Cluster, `VIOLATION ${v.message}`);
  }
  return {
    seed: opts.seed,
    steps: world.step,
    time: world.time,
    profile,
    faults,
    violation,
    traceHash: world.tracer.hash,
    tracer: world.tracer,
    ops: clients.history.length,
  };
}

/**
 * Liveness after healing, per group of the map: a leader commits a new write of a key the group
 * owns, every member (learners too) applies it, and every member has finished the cleanup of
 * its splits (no seqs left to walk, no given-up key held).
 */
async function awaitGroupsLive(world: GroupWorld, rs: Reshard): Promise<void> {
  const deadline = world.time + LIVENESS_WINDOW;
  const live = new Map<GroupId, number>();
  const tried = new Map<GroupId, number>();
  const converged = (group: GroupId) => {
    const index = live.get(group);
    if (index === undefined) return false;
    const { voters, learners } = world.groups.get(group)!.conf.conf;
    return [...voters, ...learners].every((id) => {
      const r = world.hosts.get(id)?.replicas.get(group);
      return r?.up && r.applied >= index && r.kv!.cleanupPending === 0 && r.kv!.unownedKeys === 0;
    });
  };
  // Every split applied is in the map too (its parent's leader records it), so every group is judged.
  while (rs.dataGroups().length < rs.owners.groups || !rs.dataGroups().every(converged)) {
    if (world.time > deadline) throw new InvariantViolation(Invariant.Liveness, livenessReport(world, rs, live));
    for (const group of rs.dataGroups()) {
      if (live.has(group) || world.time < (tried.get(group) ?? 0)) continue;
      const leader = world.leaderOf(group);
      if (!leader) continue;
      tried.set(group, world.time + 2 * ELECTION);
      const key = liveKey(rs, group);
      world.trace(K.Cluster, `liveness write of ${key} proposed on g${group} ${leader.id}`);
      leader.propose([{ type: 'set', key: enc.encode(key), value: enc.encode(`t${world.time}`) }], world.time + 2 * ELECTION).then(
        (r) => {
          if (r[0]?.type === 'moved') tried.set(group, world.time);
          else live.set(group, leader.applied);
        },
        (e: Error) => {
          world.trace(K.Cluster, `liveness write on g${group} ${leader.id} failed: ${e.message}`);
          tried.set(group, world.time + ELECTION);
        },
      );
    }
    await world.next();
  }
  world.trace(
    K.Cluster,
    `liveness: ${rs
      .dataGroups()
      .map((g) => `g${g}@${live.get(g)}`)
      .join(' ')} applied on every member, cleanup done`,
  );
}

/** A key of `group`'s slots (not a client key: the liveness writes stay out of the history). */
function liveKey(rs: Reshard, group: GroupId): string {
  for (let i = 0; ; i++) if (groupOfSlot(rs.map, keyHashSlot(`live-${i}`)) === group) return `live-${i}`;
}

function livenessReport(world: GroupWorld, rs: Reshard, live: Map<GroupId, number>): string {
  const parts = rs.dataGroups().map((group) => {
    const { voters, learners } = world.groups.get(group)!.conf.conf;
    const replicas = [...voters, ...learners].map((id) => {
      const r = world.hosts.get(id)?.replicas.get(group);
      if (!r?.up) return `${id}: ${r ? 'down' : 'not hosted'}`;
      return `${id}: ${r.role} term ${r.term} applied ${r.applied} cleanup ${r.kv!.cleanupPending}/${r.kv!.unownedKeys}`;
    });
    return `g${group} (live ${live.get(group) ?? '-'}; ${replicas.join(', ')})`;
  });
  return `not every group applied a new write on every member and finished its cleanup within ${LIVENESS_WINDOW} time units after healing: ${parts.join('; ')}`;
}

function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const where = e.stack
    ?.split('\n')
    .find((l) => l.includes('src/') || l.includes('groups/'))
    ?.trim();
  return `${e.name}: ${e.message}${where ? ` (${where})` : ''}`;
}
