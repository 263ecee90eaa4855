/**
 * ReadBatches with a fake node: one barrier per event-loop turn for every read in it, answers
 * in arrival order, batches finished in the order they were opened whatever order their
 * barriers settle in, and failures answered per read.
 */
import { describe, expect, it } from 'vitest';
import { lookupCommand } from '../../src/resp/commands/table.ts';
import { DeferredReply } from '../../src/resp/deferred-reply.ts';
import { type BatchHost, ReadBatches } from '../../src/resp/handlers/read-batches.ts';
import { R, type Reply } from '../../src/resp/reply.ts';
import { keyHashSlot } from '../../src/resp/slot.ts';

const GET = lookupCommand('get')!;
const turn = () => new Promise((r) => setImmediate(r));

function setup() {
  const barriers: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const answered: string[] = [];
  let clock = 100;
  const lease = { holds: false };
  const host: BatchHost<string> = {
    barrier: () => new Promise<void>((resolve, reject) => barriers.push({ resolve, reject })),
    leaseRead: () => lease.holds,
    now: () => clock++,
    evaluate: (read, argv, now) => {
      if (read === 'boom') throw new Error('bug');
      return R.bulk(`${read}:${argv[1]}@${now}`);
    },
    failed: (err, slot) => R.error(`ERR ${(err as Error).message} slot ${slot}`),
    crashed: () => R.error('ERR internal error'),
  };
  const batches = new ReadBatches(host);
  const text = (r: Reply | null) => (r === null ? null : r.t === 'bulk' || r.t === 'error' ? String(r.v) : r.t);
  const read = (name: string, key: string) => {
    const d = new DeferredReply({ settled: () => answered.push(name) }, 2);
    const batch = batches.add(d, name, GET, [Buffer.from('get'), Buffer.from(key)]);
    return { d, batch, reply: () => text(d.reply) };
  };
  return { barriers, answered, read, lease };
}

describe('ReadBatches', () => {
  it('gives every read of one turn one barrier and answers them in arrival order at one timestamp', async () => {
    const { barriers, answered, read } = setup();
    const a = read('a', 'k1');
    const b = read('b', 'k2');
    expect(barriers).toHaveLength(0);
    await turn();
    expect(barriers).toHaveLength(1);
    const c = read('c', 'k3');
    await turn();
    expect(barriers).toHaveLength(2);
    expect(a.batch).toBe(b.batch);
    expect(c.batch).not.toBe(a.batch);
    barriers[0].resolve();
    await turn();
    expect(answered).toEqual(['a', 'b']);
    expect([a.reply(), b.reply(), c.reply()]).toEqual(['a:k1@100', 'b:k2@100', null]);
    expect(a.batch.finished).toBe(true);
    expect(c.batch.finished).toBe(false);
  });

  it('under a lease a batch is answered as it closes, with no barrier, but never ahead of an earlier batch', async () => {
    const { barriers, answered, read, lease } = setup();
    const a = read('a', 'k');
    await turn(); // closed without a lease: waits for its barrier
    lease.holds = true;
    const b = read('b', 'k');
    expect(b.reply()).toBeNull(); // not before the batch closes, after all its reads arrived
    await turn();
    expect(barriers).toHaveLength(1); // b took none
    expect(answered).toEqual([]); // and waits for a's
    barriers[0].resolve();
    await turn();
    expect(answered).toEqual(['a', 'b']);
    expect([a.reply(), b.reply()]).toEqual(['a:k@100', 'b:k@101']);
    const c = read('c', 'k');
    await turn();
    expect(barriers).toHaveLength(1);
    expect(c.reply()).toBe('c:k@102');
    lease.holds = false; // run out: a barrier again
    read('d', 'k');
    await turn();
    expect(barriers).toHaveLength(2);
  });

  it('finishes batches in the order they were opened, even when a later barrier settles first', async () => {
    const { barriers, answered, read } = setup();
    const a = read('a', 'k');
    await turn();
    const b = read('b', 'k');
    await turn();
    let bFinished = false;
    void b.batch.whenFinished().then(() => {
      bFinished = true;
    });
    barriers[1].resolve();
    await turn();
    expect(answered).toEqual([]);
    expect(bFinished).toBe(false);
    barriers[0].resolve();
    await turn();
    expect(answered).toEqual(['a', 'b']);
    expect(bFinished).toBe(true);
    expect(a.batch.finished && b.batch.finished).toBe(true);
  });

  it('answers each read of a failed barrier with its own slot, and a throwing read as an internal error', async () => {
    const { barriers, read } = setup();
    const a = read('a', 'user:1');
    const b = read('b', 'user:2');
    await turn();
    barriers[0].reject(new Error('no quorum'));
    const c = read('boom', 'k');
    const d = read('d', 'k');
    await turn();
    barriers[1].resolve();
    await turn();
    expect(a.reply()).toBe(`ERR no quorum slot ${keyHashSlot('user:1')}`);
    expect(b.reply()).toBe(`ERR no quorum slot ${keyHashSlot('user:2')}`);
    expect(c.reply()).toBe('ERR internal error');
    expect(d.reply()).toMatch(/^d:k@/);
  });
});
