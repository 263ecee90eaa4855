/**
 * The shard changes an operator (or the rebalancer) asks for (issue 13), run on the metadata
 * group's leader: each is done in the data group's own log first (a split entry, conf changes,
 * a leadership transfer), then recorded in the slot map through group 0 (map-record.ts). Until
 * the map catches up, the group itself is the truth: it refuses keys it no longer owns.
 *
 *  - `splitGroup`: one split entry in the group's log; every replica starts the new group from
 *    its own image (reconcile.ts); then the map records the split.
 *  - `moveReplica`: learner, snapshot catch-up, promote, then the old replica is removed, each
 *    step recorded in the map once it committed in the group: Raft's own single-server changes,
 *    so the group keeps its quorum at every step.
 */
import { findGroup, nextGroupId, rangesOf, type ShardOpBody, type SlotMap, validate } from '../../shard/index.ts';
import type { StorageEngine } from '../../storage/index.ts';
import type { NodeConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { RaftNode } from '../raft-node.ts';
import { changeMap, MapChangeError, readMap } from './map-record.ts';

/** What a change needs from the store. */
export interface ChangeHost {
  readonly cfg: Pick<NodeConfig, 'id' | 'tickMs' | 'electionTicks'>;
  readonly log: Logger;
  readonly engine: Pick<StorageEngine, 'groupIds'>;
  readonly groups: ReadonlyMap<number, RaftNode>;
  readonly map: SlotMap | undefined;
  readonly metadata: RaftNode;
  /** The configuration a split applied here gave its new group (reconcile.ts). */
  splitConf?(group: number): { voters: string[]; learners: string[] } | undefined;
}

/** How long a moved replica may take to catch up before the move gives up (it stays a learner). */
const CATCH_UP_MS = 120_000;

function currentMap(host: ChangeHost): SlotMap {
  const map = host.map;
  if (!map) throw new MapChangeError('this node has not applied the slot map yet');
  return map;
}

/**
 * A change of a group runs where group 0 is led and the group is hosted. When group 0's leader
 * holds no replica of the group, it makes a voter of group 0 that does its hinted leader (the
 * leader spread hands group 0 over) and throws `RunElsewhereError` naming it: the rebalancer's
 * next pass, or the caller's retry, runs the change there.
 */
export class RunElsewhereError extends MapChangeError {
  override name = 'RunElsewhereError';
  constructor(
    readonly group: number,
    readonly node: string,
  ) {
    super(`group ${group} has no replica here; the metadata group's leadership moves to ${node}, which hosts it: the change runs there`);
  }
}

export async function localGroup(host: ChangeHost & { alive?(id: string): boolean }, group: number): Promise<RaftNode> {
  const node = host.groups.get(group);
  if (node) return node;
  const g = host.map ? findGroup(host.map, group) : undefined;
  const g0 = host.metadata.confState().voters;
  const target = g?.voters.find((id) => g0.includes(id) && (host.alive?.(id) ?? true));
  if (!target) throw new MapChangeError(`group ${group} has no replica on ${host.cfg.id}, nor on any voter of the metadata group`);
  await record(host, { type: 'setLeaderHint', group: 0, node: target }, (m) => findGroup(m, 0)?.leaderHint === target);
  throw new RunElsewhereError(group, target);
}

/** Leads `node`'s group from here, moving leadership here if another voter has it. */
export async function lead(host: ChangeHost, node: RaftNode): Promise<void> {
  if (node.isLeader()) return;
  if (!node.confState().voters.includes(host.cfg.id)) throw new MapChangeError(`${host.cfg.id} is not a voter of the group`);
  const leader = await node.transferLeadership(host.cfg.id);
  if (leader !== host.cfg.id || !node.isLeader()) throw new MapChangeError(`could not take the group's leadership (${leader} leads it); try again`);
}

/** Records `body` in the map; a change someone else recorded first (the reconciler) counts. */
export async function record(host: ChangeHost, body: ShardOpBody, done: (map: SlotMap) => boolean): Promise<SlotMap> {
  try {
    return await changeMap(host.metadata, body);
  } catch (err) {
    const latest = readMap(host.metadata.kv, host.metadata.now())?.map;
    if (latest && done(latest)) return latest;
    throw err;
  }
}

export async function splitGroup(host: ChangeHost, group: number, slot: number): Promise<{ map: SlotMap; newGroup: number }> {
  const map = currentMap(host);
  // An id no split, recorded or not, has used: the map's next, past every group on disk here.
  const used = [...host.groups.values()].flatMap((n) => n.kv.splits.map((r) => r.group + 1));
  const newGroup = Math.max(nextGroupId(map), ...host.engine.groupIds().map((id) => id + 1), ...used);
  const body = { type: 'split' as const, group, atSlot: slot, newGroup };
  const problem = validate(map, { ...body, epoch: map.epoch });
  if (problem) throw new MapChangeError(problem);
  const parent = await localGroup(host, group);
  if (rangesOf(map, group).filter((r) => r.end >= slot).length !== 1) {
    throw new MapChangeError(`group ${group} owns more than one slot range from slot ${slot} up; split it within its last range`);
  }
  await lead(host, parent);
  const [result] = await parent.propose([{ type: 'split', atSlot: slot, group: newGroup }]);
  if (result?.type === 'error') throw new MapChangeError(result.message.replace(/^ERR /, ''));
  if (result?.type !== 'split') throw new MapChangeError(`group ${group} did not split (${result?.type ?? 'no result'}); try again`);
  host.log.info({ group, slot, newGroup }, `split group ${group} at slot ${slot}: new group ${newGroup}`);
  // The new group's replicas are the parent's at the split entry, not the map's now.
  const next = await record(host, { ...body, ...host.splitConf?.(newGroup) }, (m) => findGroup(m, newGroup) !== undefined);
  return { map: next, newGroup };
}

export async function moveReplica(host: ChangeHost, group: number, from: string, to: string): Promise<SlotMap> {
  let map = currentMap(host);
  const g = findGroup(map, group);
  if (!g) throw new MapChangeError(`no group ${group}`);
  if (!g.voters.includes(from)) throw new MapChangeError(`node ${from} is not a voter of group ${group}`);
  const problem = validate(map, { type: 'addLearner', group, node: to, epoch: map.epoch });
  if (problem) throw new MapChangeError(problem);
  const member = host.metadata.members.get(to) ?? [...host.groups.values()].map((n) => n.members.get(to)).find((m) => m);
  if (!member) throw new MapChangeError(`node ${to} is not a member of the cluster (raftkv member add it first)`);
  const node = await localGroup(host, group);
  const step = (what: string) => host.log.info({ group, from, to }, `move of group ${group} from ${from} to ${to}: ${what}`);
  await lead(host, node);
  await node.addMember(member);
  step('added as a learner');
  map = await record(host, { type: 'addLearner', group, node: to }, (m) => findGroup(m, group)?.learners.includes(to) ?? false);
  // The learner catches up from a snapshot; the leader promotes it once it has (membership.ts).
  const deadline = Date.now() + CATCH_UP_MS;
  while (!node.confState().voters.includes(to)) {
    if (Date.now() > deadline) throw new MapChangeError(`node ${to} did not catch up with group ${group} in ${CATCH_UP_MS / 1000} s; it stays a learner`);
    if (!node.isLeader()) await lead(host, node);
    await node.promoteMember(to).catch(() => {});
    await new Promise((r) => setTimeout(r, host.cfg.tickMs * 4));
  }
  step('promoted to voter');
  map = await record(host, { type: 'promote', group, node: to }, (m) => findGroup(m, group)?.voters.includes(to) ?? false);
  if (findGroup(map, group)?.leaderHint === from) {
    map = await record(host, { type: 'setLeaderHint', group, node: to }, (m) => findGroup(m, group)?.leaderHint === to);
  }
  if (!node.isLeader()) await lead(host, node);
  // A leader removing itself steps down once the change commits (Raft, section 6).
  await node.removeMember(from);
  step('old replica removed');
  return record(host, { type: 'removeReplica', group, node: from }, (m) => !(findGroup(m, group)?.voters.includes(from) ?? true));
}
