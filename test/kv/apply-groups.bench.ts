/**
 * What a sharded node's state machines cost per SET against one (issue 13; not a test): the
 * shard bench's keys (256 clients x 650 keys, all new) applied in one process to one `KvStore`
 * that owns every slot, or routed by slot to `--groups` stores that each own an equal share of
 * the slots and count keys per slot, as a sharded node's groups do. Passes alternate, so the
 * machine's load hits both alike. For docs/performance.md "Shards".
 *
 *   npx tsx test/kv/apply-groups.bench.ts [--groups 9] [--passes 4]
 */
import { Buffer } from 'node:buffer';
import { parseArgs } from 'node:util';
import { type KvEntry, KvStore, keyHashSlot, SLOT_COUNT } from '../../src/kv/index.ts';

const { values } = parseArgs({ options: { groups: { type: 'string', default: '9' }, passes: { type: 'string', default: '4' } } });
const CLIENTS = 256;
const KEYS_PER_CLIENT = 650;
const value = Buffer.alloc(16, 'v');

/** Microseconds per SET applied, over every key once. */
function pass(groups: number): number {
  const per = Math.ceil(SLOT_COUNT / groups);
  const stores = Array.from({ length: groups }, (_, g) =>
    groups === 1 ? new KvStore() : new KvStore({ slots: [[g * per, Math.min(SLOT_COUNT - 1, (g + 1) * per - 1)]], countSlots: true }),
  );
  const entries: KvEntry[] = [];
  const owner: number[] = [];
  // In the bench's order: each client's next key in turn.
  for (let k = 0; k < KEYS_PER_CLIENT; k++) {
    for (let c = 0; c < CLIENTS; c++) {
      const key = Buffer.from(`bench:${c}:${k}`);
      entries.push({ ts: 1, ops: [{ type: 'set', key, value }] });
      owner.push(Math.floor(keyHashSlot(key) / per));
    }
  }
  const index = new Array<number>(groups).fill(0);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < entries.length; i++) {
    const g = owner[i]!;
    stores[g]!.apply(entries[i]!, ++index[g]!);
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / entries.length;
}

const groups = Number(values.groups);
for (let p = 1; p <= Number(values.passes); p++) {
  const one = pass(1);
  const many = pass(groups);
  console.log(`pass ${p}: 1 store ${one.toFixed(3)} us/SET, ${groups} stores ${many.toFixed(3)} us/SET (${(many / one).toFixed(2)}x)`);
}
