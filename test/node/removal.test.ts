/**
 * How a node decides it was removed (node/removal.ts): applying its own removal, or being told
 * by its leader (or by anyone while it knows no leader) while it believes it is a member; never
 * while joining (in no configuration yet), nor from a lagging follower while another leader
 * replicates to it (removed and added back under the same id). Removed members are remembered
 * until added back.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Removal } from '../../src/node/removal.ts';
import { ConfChangeType, type ConfState } from '../../src/raft/types.ts';

function setup(conf: ConfState, leader = '') {
  const logs: { msg: string; reason?: string }[] = [];
  const state = { conf, leader, stopped: 0 };
  const removal = new Removal({
    id: 'n3',
    log: pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l)) }),
    confState: () => state.conf,
    leaderId: () => state.leader,
    stop: () => state.stopped++,
  });
  return { removal, logs, state };
}
const member = { voters: ['n1', 'n2', 'n3'], learners: [] };

describe('removal', () => {
  it('applying its own removal marks the node removed, stops it once and logs once', () => {
    const { removal, logs, state } = setup(member, 'n1');
    removal.applied({ type: ConfChangeType.RemoveNode, node: 'n3' });
    removal.applied({ type: ConfChangeType.RemoveNode, node: 'n3' });
    removal.toldByPeer('n1');
    expect(removal.removed).toBe(true);
    expect(removal.reason).toMatch(/applied its own removal/);
    expect(state.stopped).toBe(1);
    expect(logs.filter((l) => l.msg.startsWith('this node was removed'))).toHaveLength(1);
  });

  it('believes its leader, or anyone while it knows no leader; not a follower while it has a leader', () => {
    const followed = setup(member, 'n1');
    followed.removal.toldByPeer('n2');
    expect(followed.removal.removed).toBe(false);
    followed.removal.toldByPeer('n1');
    expect(followed.removal.reason).toBe('member n1 says this node was removed from the cluster');
    const campaigning = setup(member, '');
    campaigning.removal.toldByPeer('n2');
    expect(campaigning.removal.removed).toBe(true);
  });

  it('a joining node (in no configuration) is never told it was removed', () => {
    const { removal, state } = setup({ voters: [], learners: [] });
    removal.toldByPeer('n1');
    expect(removal.removed).toBe(false);
    state.conf = { voters: ['n1', 'n2'], learners: ['n3'] };
    removal.toldByPeer('n1');
    expect(removal.removed).toBe(true);
  });

  it('remembers removed members until they are added back', () => {
    const { removal } = setup(member, 'n1');
    removal.applied({ type: ConfChangeType.RemoveNode, node: 'n2' });
    expect(removal.wasRemoved('n2')).toBe(true);
    expect(removal.wasRemoved('n9')).toBe(false);
    removal.applied({ type: ConfChangeType.AddLearner, node: 'n2' });
    expect(removal.wasRemoved('n2')).toBe(false);
    expect(removal.removed).toBe(false);
  });
});
