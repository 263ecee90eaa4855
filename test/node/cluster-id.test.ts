/**
 * How a node settles its cluster id at open (node/cluster-id.ts), against a real LevelDB store:
 * nodes bootstrapping the same configuration agree, a different configuration or token gives a
 * different id, a lone node's id is random, old data takes the token, a joining node has none.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootstrapClusterId, settleClusterId } from '../../src/node/cluster-id.ts';
import { bootstrapEntries } from '../../src/node/leadership.ts';
import { LevelStorage } from '../../src/storage/index.ts';

const dirs: string[] = [];
const stores: LevelStorage[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function store(): Promise<LevelStorage> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-cid-'));
  dirs.push(dir);
  const s = await LevelStorage.open(dir);
  stores.push(s);
  return s;
}
const members = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `n${i + 1}`, host: '127.0.0.1', port: 7000 + i, httpPort: 17000 + i }));

describe('cluster id at open', () => {
  it('nodes bootstrapping one configuration agree; 3 vs 5 members, another address or token differ', () => {
    const three = bootstrapEntries(members(3));
    expect(bootstrapClusterId('raftkv', three)).toBe(bootstrapClusterId('raftkv', bootstrapEntries([...members(3)].reverse())));
    expect(bootstrapClusterId('raftkv', three)).toMatch(/^[0-9a-f]{16}$/);
    expect(bootstrapClusterId('raftkv', bootstrapEntries(members(5)))).not.toBe(bootstrapClusterId('raftkv', three));
    const moved = members(3);
    moved[2].port = 7100;
    expect(bootstrapClusterId('raftkv', bootstrapEntries(moved))).not.toBe(bootstrapClusterId('raftkv', three));
    expect(bootstrapClusterId('other', three)).not.toBe(bootstrapClusterId('raftkv', three));
  });

  it('a bootstrap stores its id, and the next open finds it whatever the flags say', async () => {
    const s = await store();
    const entries = bootstrapEntries(members(3));
    const first = await settleClusterId(s, { token: 'raftkv', fresh: true, bootstrap: entries, alone: false });
    expect(first).toEqual({ id: bootstrapClusterId('raftkv', entries), origin: 'bootstrapped' });
    const again = await settleClusterId(s, { token: 'other', fresh: false, alone: false });
    expect(again).toEqual({ id: first.id, origin: 'stored' });
  });

  it('a lone node makes a random id; a joining node has none; old data takes the token', async () => {
    const one = bootstrapEntries(members(1));
    const a = await settleClusterId(await store(), { token: 'raftkv', fresh: true, bootstrap: one, alone: true });
    const b = await settleClusterId(await store(), { token: 'raftkv', fresh: true, bootstrap: one, alone: true });
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
    expect(a.id).not.toBe(b.id);
    const joining = await store();
    expect(await settleClusterId(joining, { token: 'raftkv', fresh: true, alone: false })).toEqual({ id: undefined, origin: 'joining' });
    expect(joining.clusterId()).toBeUndefined();
    const old = await store();
    expect(await settleClusterId(old, { token: 'raftkv', fresh: false, alone: false })).toEqual({ id: 'raftkv', origin: 'legacy' });
    expect(old.clusterId()).toBe('raftkv');
  });
});
