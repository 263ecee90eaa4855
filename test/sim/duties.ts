/**
 * The leader's own proposals, as src/node/leader-duties.ts makes them (that class is bound to
 * RaftNode, Date.now and Math.random): active expiry every EXPIRE_EVERY time units (conditional
 * deletes of keys past their expiry by the node's clock) and eviction while over maxmemory
 * (deletes conditional on each victim's version), one proposal of each kind in flight at a time.
 */
import type { KvOp, KvStore } from '../../src/kv/index.ts';

const EXPIRE_BATCH = 64;
const EXPIRE_EVERY = 100;

export interface DutiesHost {
  readonly kv: KvStore;
  /** The node's clock (entry clock). */
  now(): number;
  propose(ops: KvOp[]): Promise<unknown>;
}

export class LeaderDuties {
  private expiryInFlight = false;
  private evictionInFlight = false;
  private lastExpiry = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly host: DutiesHost,
    private readonly rng: () => number,
  ) {}

  reset(): void {
    this.expiryInFlight = false;
    this.evictionInFlight = false;
  }

  /** `time`: the simulated time (the runtime's setInterval cadence). */
  onTick(time: number): void {
    if (time - this.lastExpiry >= EXPIRE_EVERY) {
      this.lastExpiry = time;
      this.expire();
    }
    this.afterApply();
  }

  private expire(): void {
    if (this.expiryInFlight) return;
    const due = this.host.kv.expiredSample(this.host.now(), EXPIRE_BATCH);
    if (due.length === 0) return;
    this.expiryInFlight = true;
    const ops: KvOp[] = due.map((d) => ({ type: 'expireIf', key: d.key, at: d.expiresAt }));
    this.host
      .propose(ops)
      .catch(() => undefined)
      .finally(() => {
        this.expiryInFlight = false;
      });
  }

  afterApply(): void {
    const kv = this.host.kv;
    if (this.evictionInFlight || kv.maxmemory === 0 || kv.policy === 'noeviction') return;
    const over = kv.bytesOverMaxmemory();
    if (over <= 0) return;
    const victims = kv.evictionCandidates(over, kv.policy, this.rng);
    if (victims.length === 0) return;
    this.evictionInFlight = true;
    this.host
      .propose([{ type: 'evictIf', victims }])
      .catch(() => undefined)
      .finally(() => {
        this.evictionInFlight = false;
      });
  }
}
