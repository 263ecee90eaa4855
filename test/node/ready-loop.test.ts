/**
 * The runtime's Ready driver: pipelined saves finish strictly in order, and nothing that
 * promises durability (an append ack, a vote) leaves before every save queued ahead of it.
 */
import { describe, expect, it } from 'vitest';
import { ReadyLoop } from '../../src/node/ready-loop.ts';
import type { RawNode } from '../../src/raft/index.ts';
import { EntryType, type Message, MessageType, type Ready, Role } from '../../src/raft/types.ts';

function ready(over: Partial<Ready>): Ready {
  return { entries: [], committedEntries: [], messages: [], readStates: [], mustSync: false, ...over };
}
const msg = (type: Message['type'], index = 0): Message => ({ type, from: 'n2', to: 'n1', term: 1, index }) as Message;
const ent = (index: number): Ready['entries'][number] => ({ index, term: 1, type: EntryType.Normal, data: new Uint8Array() });

function harness(role: Role = Role.Follower, install: () => Promise<void> = async () => {}) {
  const queue: Ready[] = [];
  const sent: string[] = [];
  const advanced: number[] = [];
  const saves: { resolve: () => void }[] = [];
  const applied: number[] = [];
  const raw = {
    hasReady: () => queue.length > 0,
    ready: () => queue.shift()!,
    advance: (rd: Ready) => advanced.push(rd.entries.at(-1)?.index ?? 0),
  } as unknown as RawNode;
  const loop = new ReadyLoop({
    raw,
    role: () => role,
    onSoftState: () => {},
    send: (ms) => sent.push(...ms.map((m) => `${m.type}@${m.index}`)),
    save: () => new Promise<void>((resolve) => saves.push({ resolve })),
    saved: () => {},
    applyCommitted: (rd) => applied.push(...rd.committedEntries.map((e) => e.index)),
    beforeReady: () => {},
    installSnapshot: install,
    afterAdvance: () => {},
    fail: (err) => {
      throw err;
    },
  });
  const turn = () => new Promise<void>((r) => setImmediate(r));
  return { queue, sent, advanced, saves, applied, loop, turn };
}

describe('ReadyLoop', () => {
  it('holds an append ack from a Ready that writes nothing until the earlier save is durable', async () => {
    const h = harness();
    h.queue.push(ready({ entries: [ent(3)], mustSync: true, messages: [msg(MessageType.AppResp, 3)] }));
    h.queue.push(ready({ messages: [msg(MessageType.AppResp, 3), msg(MessageType.HeartbeatResp)] }));
    h.loop.schedule();
    await h.turn();
    // The heartbeat answer needs nothing durable; both acks wait for entry 3's save.
    expect(h.sent).toEqual([`${MessageType.HeartbeatResp}@0`]);
    expect(h.advanced).toEqual([]);
    h.saves[0].resolve();
    await h.turn();
    expect(h.sent).toEqual([`${MessageType.HeartbeatResp}@0`, `${MessageType.AppResp}@3`, `${MessageType.AppResp}@3`]);
    expect(h.advanced).toEqual([3, 0]);
  });

  it('finishes pipelined Readies in order even if a later save settles first', async () => {
    const h = harness(Role.Leader);
    h.queue.push(ready({ entries: [ent(1)], mustSync: true, messages: [msg(MessageType.App, 1), msg(MessageType.VoteResp, 1)] }));
    h.queue.push(ready({ entries: [ent(2)], mustSync: true, messages: [msg(MessageType.App, 2), msg(MessageType.VoteResp, 2)] }));
    h.loop.schedule();
    await h.turn();
    // A leader's appends leave before its own save; both Readies were taken without waiting.
    expect(h.sent).toEqual([`${MessageType.App}@1`, `${MessageType.App}@2`]);
    expect(h.saves).toHaveLength(2);
    h.saves[1].resolve();
    await h.turn();
    expect(h.advanced).toEqual([]);
    h.saves[0].resolve();
    await h.turn();
    expect(h.advanced).toEqual([1, 2]);
    expect(h.sent.slice(2)).toEqual([`${MessageType.VoteResp}@1`, `${MessageType.VoteResp}@2`]);
  });

  // Issue 11, hole 1: a single voter wins in the Ready that raises its term. Its Apps to a
  // learner must wait for that term to be durable, or a crash before the save lets it win the
  // same term again and propose a different entry at the same index and term.
  it("holds a leader's appends until the save that changes its term or vote is durable", async () => {
    const h = harness(Role.Leader);
    const hs = (term: number) => ({ term, vote: 'n1', commit: 0 });
    h.queue.push(ready({ hardState: hs(1), entries: [ent(1)], mustSync: true, messages: [msg(MessageType.App, 1)] }));
    h.loop.schedule();
    await h.turn();
    h.saves[0].resolve();
    await h.turn();
    expect(h.sent).toEqual([`${MessageType.App}@1`]);
    // The new term: nothing leaves before its save, not even from the next Ready.
    h.queue.push(ready({ hardState: hs(2), entries: [ent(2)], mustSync: true, messages: [msg(MessageType.App, 2)] }));
    h.queue.push(ready({ entries: [ent(3)], mustSync: true, messages: [msg(MessageType.App, 3)] }));
    h.loop.schedule();
    await h.turn();
    expect(h.sent).toEqual([`${MessageType.App}@1`]);
    h.saves[1].resolve();
    h.saves[2].resolve();
    await h.turn();
    expect(h.sent).toEqual([`${MessageType.App}@1`, `${MessageType.App}@2`, `${MessageType.App}@3`]);
    // Same term again: appends go out ahead of their save, as thesis 10.2.1 allows.
    h.queue.push(ready({ hardState: { ...hs(2), commit: 3 }, entries: [ent(4)], mustSync: true, messages: [msg(MessageType.App, 4)] }));
    h.loop.schedule();
    await h.turn();
    expect(h.sent.at(-1)).toBe(`${MessageType.App}@4`);
    expect(h.saves).toHaveLength(4);
  });

  // Hole 1's second path (found by reading, after the simulator's run of the production loop):
  // a Ready that writes nothing (a tick's heartbeat, or the Apps a heartbeat answer unpauses)
  // skips the mustSync branch. Its messages carry the new term too, so they wait as well.
  it('holds every leader message, from Readies that write nothing too, until its new term is durable', async () => {
    const h = harness(Role.Leader);
    const hs = (term: number) => ({ term, vote: 'n1', commit: 0 });
    h.queue.push(ready({ hardState: hs(2), entries: [ent(1)], mustSync: true, messages: [] }));
    h.queue.push(ready({ messages: [msg(MessageType.Heartbeat)] }));
    h.queue.push(ready({ messages: [msg(MessageType.App, 1)] }));
    h.loop.schedule();
    await h.turn();
    expect(h.sent).toEqual([]);
    h.saves[0].resolve();
    await h.turn();
    expect(h.sent).toEqual([`${MessageType.Heartbeat}@0`, `${MessageType.App}@1`]);
    // Once the term is durable, a Ready that writes nothing sends at once again.
    h.queue.push(ready({ messages: [msg(MessageType.Heartbeat)] }));
    h.loop.schedule();
    await h.turn();
    expect(h.sent).toHaveLength(3);
  });

  // Issue 11, hole 6a: restoring a large snapshot takes many event-loop turns; the loop must go
  // on answering heartbeats meanwhile, and apply nothing until the restore is done.
  it('keeps taking Readies while a snapshot is restored: heartbeat answers leave, applies wait, in order', async () => {
    let restored!: () => void;
    const h = harness(Role.Follower, () => new Promise<void>((r) => (restored = r)));
    const snapshot = { meta: { index: 10, term: 1, conf: { voters: ['n1'], learners: [] } }, data: new Uint8Array() };
    h.queue.push(ready({ snapshot, mustSync: true, committedEntries: [] }));
    h.loop.schedule();
    await h.turn();
    h.saves[0].resolve();
    await h.turn();
    h.queue.push(ready({ messages: [msg(MessageType.HeartbeatResp)], committedEntries: [ent(11)] }));
    h.queue.push(ready({ messages: [msg(MessageType.HeartbeatResp)], committedEntries: [ent(12)] }));
    h.loop.schedule();
    await h.turn();
    expect(h.sent).toEqual([`${MessageType.HeartbeatResp}@0`, `${MessageType.HeartbeatResp}@0`]);
    expect(h.applied).toEqual([]);
    restored();
    await h.turn();
    await h.turn();
    expect(h.applied).toEqual([11, 12]);
    // Once the restore is done, applies happen at once again.
    h.queue.push(ready({ committedEntries: [ent(13)] }));
    h.loop.schedule();
    await h.turn();
    expect(h.applied).toEqual([11, 12, 13]);
  });

  // Issue 15's waterfall: a leader's commit Ready sent its commit Apps before the replies its
  // applies released, and their frames' writes cost every single-client SET ~0.2 ms.
  it("sends a leader's commit-only messages after the replies its applies release, in order with later sends", async () => {
    const events: string[] = [];
    const queue: Ready[] = [];
    const raw = { hasReady: () => queue.length > 0, ready: () => queue.shift()!, advance: () => {} } as unknown as RawNode;
    const loop = new ReadyLoop({
      raw,
      role: () => Role.Leader,
      onSoftState: () => {},
      // As the transport does: a send's frame is written in a microtask.
      send: (ms) => queueMicrotask(() => events.push(...ms.map((m) => `send ${m.type}@${m.index}`))),
      save: () => Promise.resolve(),
      saved: () => {},
      // A caller waiting on the entry, answered from a promise reaction as the RESP server does.
      applyCommitted: (rd) => {
        for (const e of rd.committedEntries) void Promise.resolve().then(() => queueMicrotask(() => events.push(`reply ${e.index}`)));
      },
      beforeReady: () => {},
      installSnapshot: async () => {},
      afterAdvance: () => {},
      fail: (err) => {
        throw err;
      },
    });
    const turn = () => new Promise<void>((r) => setImmediate(r));
    queue.push(ready({ hardState: { term: 1, vote: 'n1', commit: 0 }, mustSync: true }));
    loop.schedule();
    await turn();
    await turn();
    const commit = ready({ hardState: { term: 1, vote: 'n1', commit: 5 }, committedEntries: [ent(5)], messages: [msg(MessageType.App, 5)] });
    queue.push(commit);
    loop.schedule();
    await turn();
    await turn();
    expect(events).toEqual(['reply 5', `send ${MessageType.App}@5`]);
    // Held messages go out ahead of anything sent after them, before the turn ends.
    events.length = 0;
    queue.push({ ...commit, committedEntries: [ent(6)], messages: [msg(MessageType.App, 6)] });
    queue.push(ready({ entries: [ent(7)], mustSync: true, messages: [msg(MessageType.App, 7)] }));
    loop.schedule();
    await turn();
    await turn();
    expect(events.filter((e) => e.startsWith('send'))).toEqual([`send ${MessageType.App}@6`, `send ${MessageType.App}@7`]);
    // A read-confirmation round is not held: a read waits for it.
    events.length = 0;
    const beat = { ...msg(MessageType.Heartbeat), context: new Uint8Array([1]) };
    queue.push({ ...commit, committedEntries: [ent(8)], messages: [beat] });
    loop.schedule();
    await turn();
    await turn();
    expect(events).toEqual([`send ${MessageType.Heartbeat}@0`, 'reply 8']);
  });
});
