/**
 * Leaders where the slot map hints them (issue 13): each group's map entry names a preferred
 * leader (`leaderHint`), spread evenly over the nodes by the initial layout and by the
 * rebalancer. A node leading a group whose hint is another voter hands leadership over, once
 * that voter's link is up and this node has led for a while, so a cluster that just started, or
 * a node that just came back, ends with the spread the map asks for instead of wherever the
 * elections fell. One handover at a time per node; a failed one is retried after a pause.
 *
 * Only leadership moves: a hint that names a node that is down leaves the group where it is.
 */
import { findGroup, METADATA_GROUP, type SlotMap } from '../../shard/index.ts';
import type { Logger } from '../logger.ts';

/** What the duty reads: the map, this node's groups, whether a peer's link is up. */
export interface SpreadHost {
  readonly self: string;
  map(): SlotMap | undefined;
  groups(): ReadonlyMap<number, SpreadGroup>;
  linkUp(id: string): boolean;
  /** A shard change runs on this node: it moves leaders itself, and must not be undone midway. */
  paused(): boolean;
}

/** A group's replica on this node, as far as the duty needs it. */
export interface SpreadGroup {
  isLeader(): boolean;
  confState(): { voters: readonly string[] };
  transferLeadership(to?: string): Promise<string>;
}

/** Ticks a node must lead a group before it hands it over: lets the new term settle. */
const SETTLE_TICKS = 5;
/** Ticks to wait after a failed handover before trying the same group again. */
const RETRY_TICKS = 20;

export class LeaderSpread {
  private busy = false;
  /** Per group: consecutive ticks led, or a negative count of ticks still to wait after a failure. */
  private readonly led = new Map<number, number>();

  constructor(
    private readonly host: SpreadHost,
    private readonly log: Logger,
  ) {}

  tick(): void {
    const map = this.host.map();
    if (!map || this.host.paused()) return;
    for (const [id, node] of this.host.groups()) {
      const ticks = this.led.get(id) ?? 0;
      if (!node.isLeader()) {
        this.led.set(id, Math.min(ticks + 1, 0));
        continue;
      }
      this.led.set(id, ticks + 1);
      if (this.busy || ticks + 1 < SETTLE_TICKS) continue;
      const hint = findGroup(map, id)?.leaderHint;
      if (hint === undefined || hint === this.host.self) continue;
      if (!node.confState().voters.includes(hint) || !this.host.linkUp(hint)) continue;
      this.handOver(id, node, hint);
    }
  }

  private handOver(id: number, node: SpreadGroup, to: string): void {
    this.busy = true;
    const what = id === METADATA_GROUP ? 'the metadata group' : `group ${id}`;
    node
      .transferLeadership(to)
      .then(
        (leader) => this.log.info({ group: id, to: leader }, `handed ${what} over to ${leader}, its hinted leader`),
        (err: Error) => {
          this.led.set(id, -RETRY_TICKS);
          this.log.warn({ group: id, to, err: err.message }, `could not hand ${what} over to its hinted leader`);
        },
      )
      .finally(() => {
        this.busy = false;
      });
  }
}
