import { describe, expect, it } from 'vitest';
import { brief, electByHand, MessageType, msg, newStorage, soloNode } from './helpers.ts';

/** Raft paper 5.1: server states, terms, and the rules every server follows for terms. */

const voters = ['n1', 'n2', 'n3'];

describe('5.1 Raft basics', () => {
  it('starts as a follower with the durable term and vote', () => {
    const n = soloNode('n1', newStorage(voters, { terms: [1, 2], hardState: { term: 2, vote: 'n3', commit: 1 } }));
    expect(n.status()).toMatchObject({ role: 'follower', term: 2, vote: 'n3', commit: 1, lead: '' });
  });

  const roles = ['follower', 'candidate', 'leader'] as const;
  for (const role of roles) {
    it(`a ${role} that sees a higher term adopts it and becomes a follower`, () => {
      const n = soloNode('n1', newStorage(voters));
      if (role === 'candidate') n.node.campaign();
      if (role === 'leader') electByHand(n);
      n.drain();
      const term = n.status().term;
      expect(n.status().role).toBe(role);

      n.node.step(msg({ type: MessageType.App, from: 'n2', to: 'n1', term: term + 5 }));
      expect(n.status()).toMatchObject({ role: 'follower', term: term + 5, lead: 'n2', vote: '' });

      // A vote request with a higher term also raises the term, but says nothing about a leader.
      n.node.step(msg({ type: MessageType.Vote, from: 'n3', to: 'n1', term: term + 6, index: 99, logTerm: 99 }));
      expect(n.status()).toMatchObject({ role: 'follower', term: term + 6, lead: '', vote: 'n3' });
    });
  }

  it('ignores messages from an older term without answering', () => {
    const n = soloNode('n1', newStorage(voters, { hardState: { term: 3, vote: '', commit: 0 } }));
    n.node.step(msg({ type: MessageType.App, from: 'n2', to: 'n1', term: 2, entries: [] }));
    n.node.step(msg({ type: MessageType.Vote, from: 'n3', to: 'n1', term: 2 }));
    expect(n.drain()).toEqual([]);
    expect(n.status()).toMatchObject({ term: 3, lead: '', vote: '' });
  });

  it('with CheckQuorum, tells a stale leader about the newer term', () => {
    const n = soloNode('n1', newStorage(voters, { hardState: { term: 3, vote: '', commit: 0 } }), { checkQuorum: true });
    n.node.step(msg({ type: MessageType.Heartbeat, from: 'n2', to: 'n1', term: 2 }));
    expect(brief(n.drain(), ['reject'])).toEqual([{ type: MessageType.AppResp, from: 'n1', to: 'n2', term: 3, reject: false }]);
    expect(n.status().term).toBe(3);
  });

  it('the leader sends a heartbeat to every follower each heartbeat interval', () => {
    const n = soloNode('n1', newStorage(voters), { heartbeatTick: 2 });
    electByHand(n);
    n.node.tick();
    expect(n.drain()).toEqual([]);
    n.node.tick();
    expect(brief(n.drain(), ['commit'])).toEqual([
      { type: MessageType.Heartbeat, from: 'n1', to: 'n2', term: 1, commit: 0 },
      { type: MessageType.Heartbeat, from: 'n1', to: 'n3', term: 1, commit: 0 },
    ]);
  });

  it('local-only message types from the network are ignored', () => {
    const n = soloNode('n1', newStorage(voters));
    n.node.step(msg({ type: MessageType.Hup, from: 'n2', to: 'n1' }));
    n.node.step(msg({ type: MessageType.Beat, from: 'n2', to: 'n1' }));
    expect(n.status().role).toBe('follower');
    expect(n.drain()).toEqual([]);
  });

  it('malformed network messages are dropped', () => {
    const n = soloNode('n1', newStorage(voters));
    n.node.step({ ...msg({ type: MessageType.App, from: 'n2', to: 'n1', term: 5 }), index: -1 });
    n.node.step({ ...msg({ type: MessageType.App, from: 'n2', to: 'n1', term: 5 }), entries: [{} as never] });
    n.node.step({ ...msg({ type: MessageType.App, from: 'n2', to: 'n1', term: 5 }), type: 'bogus' as never });
    expect(n.status().term).toBe(0);
  });
});
