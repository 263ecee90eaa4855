import { describe, expect, it } from 'vitest';
import { ConfChangeType, encodeConfChange, InvalidConfigError, MemoryStorage, ProposalDroppedError, RawNode } from '../../src/raft/index.ts';
import { enc, MessageType, msg, Network, newStorage, soloNode, TestNode } from './helpers.ts';

/** The Ready / advance contract of RawNode, restarts from storage, and configuration checks. */

const three = ['n1', 'n2', 'n3'];

describe('RawNode', () => {
  it('a second ready() before advance hands out nothing twice', () => {
    const n = soloNode('n1', newStorage(['n1']));
    n.node.campaign();
    const first = n.node.ready();
    expect(first.entries.map((e) => e.index)).toEqual([1]);
    expect(first.softState).toEqual({ leader: 'n1', role: 'leader' });
    expect(first.mustSync).toBe(true);
    expect(n.node.hasReady()).toBe(false);
    const again = n.node.ready();
    expect([again.entries, again.committedEntries, again.messages]).toEqual([[], [], []]);
    n.storage.append(first.entries);
    n.storage.setHardState(first.hardState!);
    n.node.advance(first);
    // Only now does the single voter count its own entry: commit, then apply.
    const second = n.node.ready();
    expect(second.committedEntries.map((e) => e.index)).toEqual([1]);
    expect(second.hardState).toEqual({ term: 1, vote: 'n1', commit: 1 });
    expect(second.mustSync).toBe(false); // only the commit index moved
  });

  it('proposals are refused by followers and candidates', () => {
    const n = soloNode('n1', newStorage(three));
    expect(() => n.node.propose(enc('x'))).toThrow(ProposalDroppedError);
    expect(() => n.node.proposeBatch([enc('x'), enc('y')])).toThrow(ProposalDroppedError);
    n.node.campaign();
    expect(() => n.node.propose(enc('x'))).toThrow(ProposalDroppedError);
    expect(() => n.node.proposeBatch([enc('x')])).toThrow(ProposalDroppedError);
    expect(() => n.node.proposeConfChange({ type: ConfChangeType.AddLearner, node: 'n4' })).toThrow(ProposalDroppedError);
  });

  it('maxCommittedSizePerReady spreads committed entries over several Readys', () => {
    const storage = newStorage(['n1'], { terms: [1, 1, 1, 1], hardState: { term: 1, vote: 'n1', commit: 4 } });
    const node = new RawNode({ id: 'n1', storage, electionTick: 10, heartbeatTick: 1, random: () => 0, maxCommittedSizePerReady: 40 });
    const sizes: number[] = [];
    while (node.hasReady()) {
      const rd = node.ready();
      sizes.push(rd.committedEntries.length);
      node.advance(rd);
    }
    expect(sizes).toEqual([2, 2]); // 16 bytes each: two fit in 40
    expect(node.status().applied).toBe(4);
  });

  it('restarts from durable state only: term, vote, commit, configuration, applied index', () => {
    const net = new Network(three);
    net.campaign('n1');
    net.propose('n1', 'a');
    const before = net.get('n2').status();
    const restarted = new TestNode('n2', net.get('n2').storage, { applied: 1 });
    expect(restarted.status()).toMatchObject({
      term: before.term,
      vote: before.vote,
      commit: before.commit,
      applied: 1,
      role: 'follower',
      lead: '',
      conf: { voters: three, learners: [] },
    });
    restarted.drain();
    expect(restarted.applied.map((e) => e.index)).toEqual([2]);
  });

  it('rejects unusable configurations with InvalidConfigError', () => {
    const base = { id: 'n1', storage: new MemoryStorage(), electionTick: 10, heartbeatTick: 1, random: () => 0 };
    for (const bad of [{ id: '' }, { heartbeatTick: 0 }, { electionTick: 1 }, { maxInflightMsgs: 0 }, { readOnlyOption: 'lease' as const }]) {
      expect(() => new RawNode({ ...base, ...bad })).toThrow(InvalidConfigError);
    }
  });

  it('responses from nodes outside the configuration are ignored', () => {
    const n = soloNode('n1', newStorage(three));
    n.node.campaign();
    n.node.step(msg({ type: MessageType.VoteResp, from: 'n9', to: 'n1', term: 1 }));
    n.node.step(msg({ type: MessageType.VoteResp, from: 'n8', to: 'n1', term: 1 }));
    expect(n.status().role).toBe('candidate');
  });

  it('messages addressed elsewhere, from itself, or termless are ignored', () => {
    const n = soloNode('n2', newStorage(three));
    n.node.step(msg({ type: MessageType.App, from: 'n1', to: 'n3', term: 4 }));
    n.node.step(msg({ type: MessageType.App, from: 'n2', to: 'n2', term: 4 }));
    n.node.step(msg({ type: MessageType.App, from: 'n1', to: 'n2', term: 0 }));
    n.node.step(msg({ type: MessageType.Prop, from: 'n1', to: 'n2', term: 0, entries: [] }));
    expect(n.status()).toMatchObject({ term: 0, lead: '' });
    expect(n.drain()).toEqual([]);
  });

  it('a TimeoutNow that arrives before a committed conf change is applied waits for it', () => {
    const n = soloNode('n2', newStorage(three));
    const cc = { type: ConfChangeType.AddLearner, node: 'n4' };
    const entries = [
      { term: 1, index: 1, type: 0 as const, data: new Uint8Array() },
      { term: 1, index: 2, type: 1 as const, data: encodeConfChange(cc) },
    ];
    n.node.step(msg({ type: MessageType.App, from: 'n1', to: 'n2', term: 1, index: 0, logTerm: 0, commit: 2, entries }));
    n.node.step(msg({ type: MessageType.TimeoutNow, from: 'n1', to: 'n2', term: 1 }));
    expect(n.status().role).toBe('follower'); // refused for now
    n.drain(); // applies the change; the handoff campaign follows
    expect(n.status()).toMatchObject({ role: 'candidate', term: 2, conf: { voters: three, learners: ['n4'] } });
  });
});
