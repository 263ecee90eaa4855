/**
 * Work only the leader does, always through the log so that every replica deletes the same
 * keys at the same index: active expiry (conditional deletes that spare a key re-set in the
 * meantime) and eviction under maxmemory (deletes conditional on the version each victim had
 * when picked, so a write committed between the pick and the apply survives).
 */
import { type KvOp, type KvStore, MAX_DROP_EXAMINED } from '../kv/index.ts';
import type { NodeConfig } from './config.ts';
import type { Logger } from './logger.ts';

/** Redis's active expire cycle samples 20 keys per round; we batch a few rounds per entry. */
const EXPIRE_BATCH = 64;
const EXPIRE_EVERY_MS = 100;

/** What the leader's duties need from its node. */
export interface DutiesHost {
  /** The state machine, to pick keys that are due or victims while over maxmemory. */
  readonly kv: Pick<KvStore, 'expiredSample' | 'bytesOverMaxmemory' | 'evictionCandidates' | 'cleanupPending'>;
  /** The node's clock (entry-clock.ts), which judges what is due. */
  now(): number;
  /** Proposes ops as one entry through the log (RaftNode.propose). */
  propose(ops: KvOp[]): Promise<unknown>;
  /** The clock that paces active expiry (Date.now in the node, simulated time in the simulator). */
  time(): number;
  /** Where eviction's random samples come from (Math.random in the node, seeded in the simulator). */
  random(): number;
}

export class LeaderDuties {
  private expiryInFlight = false;
  private evictionInFlight = false;
  private cleanupInFlight = false;
  private lastExpiry = 0;

  constructor(
    private readonly node: DutiesHost,
    /** Read at each call: cluster-wide settings change these (settings.ts). */
    private readonly cfg: Pick<NodeConfig, 'maxmemory' | 'maxmemoryPolicy'>,
    private readonly log: Pick<Logger, 'debug'>,
  ) {}

  reset(): void {
    this.expiryInFlight = false;
    this.evictionInFlight = false;
    this.cleanupInFlight = false;
  }

  onTick(): void {
    const now = this.node.time();
    if (now - this.lastExpiry >= EXPIRE_EVERY_MS) {
      this.lastExpiry = now;
      this.expire();
    }
    this.afterApply();
  }

  private expire(): void {
    if (this.expiryInFlight) return;
    const due = this.node.kv.expiredSample(this.node.now(), EXPIRE_BATCH);
    if (due.length === 0) return;
    const ops: KvOp[] = due.map((d) => ({ type: 'expireIf', key: d.key, at: d.expiresAt }));
    this.expiryInFlight = true;
    this.node
      .propose(ops)
      .catch((err: Error) => this.log.debug({ err: err.message }, 'active expiry proposal did not commit'))
      .finally(() => {
        this.expiryInFlight = false;
      });
  }

  /**
   * After a split (issue 13), the keys given up stay until deleted through the log, a bounded
   * walk per entry, one entry in flight (src/kv/split.ts). Before eviction: given-up keys still
   * count toward maxmemory, and deleting them frees memory without evicting a served key.
   */
  private cleanup(): boolean {
    if (this.node.kv.cleanupPending === 0) return false;
    if (this.cleanupInFlight) return true;
    this.cleanupInFlight = true;
    this.node
      .propose([{ type: 'dropUnowned', limit: MAX_DROP_EXAMINED }])
      .catch((err: Error) => this.log.debug({ err: err.message }, 'split cleanup proposal did not commit'))
      .finally(() => {
        this.cleanupInFlight = false;
      });
    return true;
  }

  /** Called after entries are applied on the leader: propose evictions while over maxmemory. */
  afterApply(): void {
    if (this.cleanup()) return;
    if (this.evictionInFlight || this.cfg.maxmemory === 0 || this.cfg.maxmemoryPolicy === 'noeviction') return;
    const over = this.node.kv.bytesOverMaxmemory();
    if (over <= 0) return;
    // Each victim carries the version it has now: a key written before this commits is spared.
    const victims = this.node.kv.evictionCandidates(over, this.cfg.maxmemoryPolicy, () => this.node.random());
    if (victims.length === 0) return;
    this.evictionInFlight = true;
    this.node
      .propose([{ type: 'evictIf', victims }])
      .catch((err: Error) => this.log.debug({ err: err.message }, 'eviction proposal did not commit'))
      .finally(() => {
        this.evictionInFlight = false;
      });
  }
}
