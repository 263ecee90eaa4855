/**
 * NodeSettings: the node's effective requirepass / maxmemory / maxmemory-policy follow the
 * state machine's cluster-wide settings over the flags; after a restart they come from the
 * committed log at once and never step back to older values while that log is re-applied.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeEntry, type KvOp } from '../../src/kv/index.ts';
import { resolveConfig } from '../../src/node/config.ts';
import { NodeSettings } from '../../src/node/settings.ts';
import { type Entry, EntryType } from '../../src/raft/types.ts';

function setup(flags: Record<string, unknown> = {}) {
  const cfg = resolveConfig(flags, {});
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { cfg, lines, settings: new NodeSettings(cfg, pino({ level: 'info' }, sink)) };
}

const config = (...kv: [string, string][]): KvOp => ({ type: 'config', pairs: kv.map(([n, v]) => [Buffer.from(n), Buffer.from(v)]) });
const normal = (index: number, ops: KvOp[]): Entry => ({ index, term: 1, type: EntryType.Normal, data: encodeEntry({ ts: 1, ops }) });

describe('NodeSettings', () => {
  it('a value from the log wins over the flag; the flag holds for what the log never set', () => {
    const { cfg, settings } = setup({ requirepass: 'flag-pw', maxmemory: '5', 'maxmemory-policy': 'volatile-lru' });
    settings.applied(3, { requirepass: 'log-pw', maxmemoryPolicy: 'allkeys-lru' }, []);
    expect([cfg.requirepass, cfg.maxmemory, cfg.maxmemoryPolicy]).toEqual(['log-pw', 5, 'allkeys-lru']);
    // The log may set the empty password: that is a value too, not "unset".
    settings.applied(4, { requirepass: '', maxmemory: 0, maxmemoryPolicy: 'allkeys-lru' }, []);
    expect([cfg.requirepass, cfg.maxmemory]).toEqual(['', 0]);
    // A snapshot without settings is a state where the log never set any.
    settings.restored({});
    expect([cfg.requirepass, cfg.maxmemory, cfg.maxmemoryPolicy]).toEqual(['flag-pw', 5, 'volatile-lru']);
  });

  it('on open: the committed log’s settings at once, and no step back while it is re-applied', () => {
    const { cfg, settings } = setup({ requirepass: 'flag-pw' });
    const tail = [
      normal(5, [config(['requirepass', 'mid'])]),
      normal(6, [{ type: 'set', key: Buffer.from('k'), value: Buffer.from('v') }]),
      normal(7, [config(['requirepass', 'new'], ['maxmemory', '100'])]),
      { index: 8, term: 1, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) },
      { index: 9, term: 1, type: EntryType.Normal, data: new Uint8Array([0xff, 0, 1]) },
      { index: 10, term: 1, type: EntryType.Normal, data: new Uint8Array(0) },
    ];
    settings.atCommit({ requirepass: 'snapshot-pw', maxmemoryPolicy: 'allkeys-random' }, tail);
    expect([cfg.requirepass, cfg.maxmemory, cfg.maxmemoryPolicy]).toEqual(['new', 100, 'allkeys-random']);
    // The Ready loop applies 5..10 again: the older value at 5 must not come back.
    settings.applied(5, { requirepass: 'mid', maxmemoryPolicy: 'allkeys-random' }, []);
    expect(cfg.requirepass).toBe('new');
    settings.caughtUp(7, { requirepass: 'mid' });
    expect(cfg.requirepass).toBe('new');
    // At the end of the replay the state machine decides (here it agrees).
    settings.caughtUp(10, { requirepass: 'new', maxmemory: 100, maxmemoryPolicy: 'allkeys-random' });
    expect(cfg.requirepass).toBe('new');
    settings.applied(11, { requirepass: 'later' }, []);
    expect(cfg.requirepass).toBe('later');
  });

  it("on a multi-group node only group 0's settings are the node's: a data group's snapshot or replay changes nothing", () => {
    const { cfg, lines } = setup({ requirepass: 'flag-pw' });
    const log = pino({ level: 'silent' });
    const seen: number[] = [];
    const metadata = new NodeSettings(cfg, log, { adopts: true, adopted: (c) => seen.push(c.maxmemory) });
    const data = new NodeSettings(cfg, log, { adopts: false });
    metadata.applied(3, { requirepass: 'cluster-pw', maxmemory: 1000 }, []);
    expect([cfg.requirepass, seen]).toEqual(['cluster-pw', [1000]]);
    // Shared cfg: a data group whose state never set a password must not bring the flag back.
    data.restored({});
    data.atCommit({}, [normal(2, [config(['requirepass', 'old'])])]);
    data.caughtUp(2, {});
    data.applied(4, { requirepass: 'data-pw' }, []);
    expect([cfg.requirepass, cfg.maxmemory]).toEqual(['cluster-pw', 1000]);
    expect(lines).toEqual([]);
  });

  it('logs ignored pairs by name and never a password', () => {
    const { lines, settings } = setup();
    settings.applied(2, { requirepass: 'hunter2' }, [{ name: 'maxmemory', why: 'not a byte count' }]);
    const log = lines.join('');
    expect(log).toMatch(/"setting":"maxmemory".*"why":"not a byte count".*ignored a cluster-wide setting/);
    expect(log).toMatch(/cluster-wide settings adopted/);
    expect(log).not.toMatch(/hunter2/);
  });
});
