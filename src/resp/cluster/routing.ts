/**
 * Which slot a request routes by, through a `ClusterView`: Redis Cluster's getNodeByQuery with
 * groups in place of nodes. A request's keys must all be in one group, else
 * `-CROSSSLOT Keys in request don't hash to the same slot`; hash tags (`{user1}.a`) keep keys
 * together. The slot it is routed (and MOVED) by is its first key's.
 *
 *  - Keys: the command table's key range (COMMAND INFO first/last/step). Sharded pub/sub
 *    channels (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE) are keys there too, and for them the rule is
 *    Redis's own, per slot: two channels of different slots are CROSSSLOT even in one group.
 *  - A transaction: what EXEC runs is judged as one request over every queued command's keys and
 *    every WATCHed key (the versions are checked in the group that applies the entry, so a
 *    WATCH in another group could not be honoured). Each queued command was checked alone when
 *    it was queued, as Redis does.
 *  - With one group (`spansGroups` false) no request is CROSSSLOT (sharded pub/sub aside) and
 *    only the first key is hashed, as before sharding.
 */
import type { CommandSpec } from '../commands/spec.ts';
import type { QueuedCommand } from '../conn.ts';
import { ROUTING_ERRORS } from '../errors.ts';
import type { Reply } from '../reply.ts';
import { keyHashSlot } from '../slot.ts';
import type { ClusterView, GroupId } from './view.ts';

/** The "slot" of a request without keys. */
export const KEYLESS = -1;

/** Commands whose keys are shard channels: CROSSSLOT per slot, as in Redis. */
const SHARD_CHANNEL_COMMANDS = new Set(['spublish', 'ssubscribe', 'sunsubscribe']);

/** Shard-channel commands route by slot even with one group (CROSSSLOT across slots). */
export function routesPerSlot(cmd: CommandSpec): boolean {
  return SHARD_CHANNEL_COMMANDS.has(cmd.name);
}

/** Accumulates the keys of one request (or transaction) and judges whether they share a group. */
class KeySet {
  slot = KEYLESS;
  private group: GroupId | undefined;

  constructor(
    private readonly view: ClusterView,
    private readonly perSlot: boolean,
  ) {}

  /** Adds a key's slot; an error reply once the request cannot be routed to one group. */
  add(slot: number): Reply | null {
    if (this.slot === KEYLESS) {
      this.slot = slot;
      if (!this.view.spansGroups && !this.perSlot) return null;
      this.group = this.view.groupOf(slot);
      return this.group === undefined ? ROUTING_ERRORS.slotUnbound : null;
    }
    if (slot === this.slot) return null;
    if (this.perSlot || (this.view.spansGroups && this.view.groupOf(slot) !== this.group)) return ROUTING_ERRORS.crossSlot;
    return null;
  }

  /** Every key matters only when they may be in different groups (or slots, for channels). */
  get checksAll(): boolean {
    return this.view.spansGroups || this.perSlot;
  }
}

function addKeys(set: KeySet, cmd: CommandSpec, argv: readonly Buffer[]): Reply | null {
  const [first, lastSpec, step] = cmd.keys;
  if (first === 0 || step === 0) return null;
  const last = lastSpec < 0 ? argv.length + lastSpec : lastSpec;
  for (let i = first; i <= last && i < argv.length; i += step) {
    const refused = set.add(keyHashSlot(argv[i]));
    if (refused !== null) return refused;
    if (!set.checksAll) return null;
  }
  return null;
}

/** The slot a request routes by (KEYLESS without keys), or CROSSSLOT / CLUSTERDOWN unbound. */
export function requestSlot(view: ClusterView, cmd: CommandSpec, argv: readonly Buffer[]): number | Reply {
  const perSlot = SHARD_CHANNEL_COMMANDS.has(cmd.name);
  if (!view.spansGroups && !perSlot) {
    // The hot path (GET, SET on one group): the first key's slot, nothing allocated.
    const first = cmd.keys[0];
    return first > 0 && first < argv.length ? keyHashSlot(argv[first]) : KEYLESS;
  }
  const set = new KeySet(view, perSlot);
  return addKeys(set, cmd, argv) ?? set.slot;
}

/**
 * The slot EXEC routes by: the first key of the queued commands, else of the WATCHed keys
 * (KEYLESS if neither has one), or CROSSSLOT when they span groups.
 */
export function transactionSlot(view: ClusterView, queued: readonly QueuedCommand[], watched: Iterable<string>): number | Reply {
  const set = new KeySet(view, false);
  for (const q of queued) {
    const refused = addKeys(set, q.cmd, q.argv);
    if (refused !== null) return refused;
    if (set.slot !== KEYLESS && !set.checksAll) return set.slot;
  }
  for (const key of watched) {
    const refused = set.add(keyHashSlot(Buffer.from(key, 'latin1')));
    if (refused !== null) return refused;
    if (!set.checksAll) break;
  }
  return set.slot;
}
