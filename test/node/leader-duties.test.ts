/**
 * LeaderDuties alone (src/node/leader-duties.ts) over a real KvStore, its proposals recorded
 * and settled by hand: expiry proposes conditional deletes at each key's expiry, eviction
 * proposes deletes conditional on each victim's version, one proposal of each kind in flight.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type KvOp, KvStore } from '../../src/kv/index.ts';
import type { NodeConfig } from '../../src/node/config.ts';
import { LeaderDuties } from '../../src/node/leader-duties.ts';

const b = (s: string) => Buffer.from(s);
const T0 = 1_700_000_000_000;

function setup(cfg: Pick<NodeConfig, 'maxmemory' | 'maxmemoryPolicy'>) {
  const kv = new KvStore({ maxmemory: cfg.maxmemory, policy: cfg.maxmemoryPolicy });
  const proposed: { ops: KvOp[]; settle: () => void }[] = [];
  let now = T0;
  // The pace of the expiry pass, apart from the node clock that judges what is due.
  let time = 1_000_000;
  const duties = new LeaderDuties(
    {
      kv,
      now: () => now,
      propose: (ops) => new Promise<unknown>((resolve) => proposed.push({ ops, settle: () => resolve([]) })),
      time: () => time,
      random: Math.random,
    },
    cfg,
    pino({ level: 'silent' }),
  );
  return { kv, duties, proposed, at: (t: number) => (now = t), pass: (ms: number) => (time += ms) };
}

const settled = () => new Promise<void>((r) => setImmediate(r));

describe('LeaderDuties', () => {
  it('proposes conditional deletes of the keys due by the node clock, one proposal at a time', async () => {
    const h = setup({ maxmemory: 0, maxmemoryPolicy: 'noeviction' });
    h.kv.apply({ ts: T0, ops: [{ type: 'set', key: b('a'), value: b('1'), pxat: T0 + 10 }] }, 1);
    h.kv.apply({ ts: T0, ops: [{ type: 'set', key: b('b'), value: b('2'), pxat: T0 + 50_000 }] }, 2);
    h.duties.onTick();
    expect(h.proposed).toHaveLength(0); // nothing due yet
    h.at(T0 + 20);
    h.duties.onTick();
    expect(h.proposed).toHaveLength(0); // the expiry pass runs at most every 100 ms
    h.pass(110);
    h.duties.onTick();
    expect(h.proposed.map((p) => p.ops)).toEqual([[{ type: 'expireIf', key: b('a'), at: T0 + 10 }]]);
    h.pass(110);
    h.duties.onTick();
    expect(h.proposed).toHaveLength(1); // the first is still in flight
    h.proposed[0].settle();
    await settled();
    h.pass(110);
    h.duties.onTick();
    expect(h.proposed).toHaveLength(2); // not applied yet, so the same key is due again
  });

  it('while over maxmemory proposes evictions carrying each victim version; never under noeviction', async () => {
    const evicting = setup({ maxmemory: 200, maxmemoryPolicy: 'allkeys-lru' });
    for (let i = 1; i <= 5; i++) evicting.kv.apply({ ts: T0, ops: [{ type: 'set', key: b(`k${i}`), value: Buffer.alloc(100) }] }, i);
    expect(evicting.kv.bytesOverMaxmemory()).toBeGreaterThan(0);
    evicting.duties.afterApply();
    evicting.duties.afterApply();
    expect(evicting.proposed).toHaveLength(1);
    const [op] = evicting.proposed[0].ops;
    expect(op.type).toBe('evictIf');
    const victims = (op as Extract<KvOp, { type: 'evictIf' }>).victims;
    expect(victims[0]).toEqual({ key: b('k1'), version: 1 }); // least recently used first
    evicting.proposed[0].settle();
    await settled();
    evicting.duties.afterApply();
    expect(evicting.proposed).toHaveLength(2);

    const refusing = setup({ maxmemory: 200, maxmemoryPolicy: 'noeviction' });
    for (let i = 1; i <= 5; i++) refusing.kv.apply({ ts: T0, ops: [{ type: 'set', key: b(`k${i}`), value: Buffer.alloc(100) }] }, i);
    refusing.duties.afterApply();
    expect(refusing.proposed).toHaveLength(0);
  });
});
