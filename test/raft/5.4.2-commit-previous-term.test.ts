import { describe, expect, it } from 'vitest';
import { appliedData, electByHand, MessageType, msg, Network, newStorage, soloNode } from './helpers.ts';

/**
 * Raft paper 5.4.2: a leader counts replicas only for entries of its own term; older entries
 * commit indirectly, when an entry of the current term after them commits.
 */

const three = ['n1', 'n2', 'n3'];
const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('5.4.2 Committing entries from previous terms', () => {
  // Leader of term 3 with entries of terms 1 and 2 at indexes 1-2 and its no-op at 3.
  for (const [acked, commit] of [
    [1, 0],
    [2, 0],
    [3, 3],
  ] as const) {
    it(`a majority holding index ${acked} commits ${commit === 0 ? 'nothing' : `through ${commit}`}`, () => {
      const n = soloNode('n1', newStorage(three, { terms: [1, 2], hardState: { term: 2, vote: '', commit: 0 } }));
      electByHand(n);
      expect(n.status()).toMatchObject({ role: 'leader', term: 3 });
      n.node.step(msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 3, index: acked }));
      n.drain();
      expect(n.status().commit).toBe(commit);
    });
  }

  it('figure 8: an old-term entry on a majority is not committed and may be overwritten', () => {
    const net = new Network(five, { maxSizePerMsg: 1 });
    net.campaign('n1'); // term 1, no-op at index 1 everywhere

    // (a) n1 replicates "a" (index 2, term 1) to n2 only.
    for (const id of ['n3', 'n4', 'n5']) net.cut('n1', id);
    net.propose('n1', 'a');
    expect(net.get('n2').logTerms()).toEqual([1, 1]);

    // (b) n1 crashes; n5 wins term 2 with n3 and n4, but its no-op never leaves it.
    net.heal();
    net.isolate('n1');
    net.cut('n2', 'n5');
    net.intercept = (m) => (m.from === 'n5' && m.type === MessageType.App ? undefined : m);
    net.elect('n5');
    expect(net.get('n5').logTerms()).toEqual([1, 2]);

    // (c) n5 crashes; n1 comes back, wins term 3 with n2 and n3 and copies "a" to n3, but its
    // own no-op (index 3) never gets out. "a" is now on n1, n2, n3: a majority, of an old term.
    net.heal();
    net.isolate('n5');
    net.isolate('n4');
    // The network loses entry 3 from every App (what remains is a valid, shorter App).
    net.intercept = (m) => ({ ...m, entries: m.entries.filter((e) => e.index !== 3) });
    net.restart('n1');
    net.elect('n1');
    expect(net.get('n3').logTerms()).toEqual([1, 1]);
    // n2 holds index 2 too; let the leader hear it.
    const term = net.get('n1').status().term;
    net.deliver([msg({ type: MessageType.AppResp, from: 'n2', to: 'n1', term, index: 2 })]);
    expect(net.get('n1').status().progress).toMatchObject({ n2: { match: 2 }, n3: { match: 2 } });
    expect(net.get('n1').status().commit).toBe(1);

    // (d) n1 crashes; n5 wins again (its last term 2 beats "a"'s term 1) and overwrites "a".
    net.heal();
    net.intercept = undefined;
    net.isolate('n1');
    net.restart('n5');
    net.elect('n5');
    for (const id of ['n2', 'n3', 'n4', 'n5']) expect(net.get(id).logTerms()[1]).toBe(2);
    net.propose('n5', 'b');
    for (const id of five) expect(appliedData(net.get(id))).not.toContain('a');
    expect(appliedData(net.get('n2'))).toEqual(['b']);
  });
});
