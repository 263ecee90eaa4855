/**
 * What a node reports about itself (src/node/node-status.ts), read from a real consensus core
 * that has just won an election: role, term, leader and commit come from the core, log
 * positions from the storage, and the configuration from the applied one, which may lag the
 * core's (a conf change committed but not applied yet is not reported).
 */
import { describe, expect, it } from 'vitest';
import { nodeStatus } from '../../src/node/node-status.ts';
import type { ConfState } from '../../src/raft/types.ts';
import { Role } from '../../src/raft/types.ts';
import { Network } from '../raft/helpers.ts';

describe('nodeStatus', () => {
  it("reports the core's role and term, the storage's positions and the applied configuration", () => {
    const net = new Network(['n1', 'n2', 'n3']);
    net.elect('n1');
    const core = net.get('n1').node;
    const s = core.status();
    const applied: ConfState = { voters: ['n1', 'n2'], learners: ['n3'] };
    const status = nodeStatus({
      id: 'n1',
      core,
      storage: { lastIndex: () => 12, snapshotMeta: () => ({ index: 5, term: 1, conf: applied }) },
      conf: () => applied,
      applied: () => 9,
    });
    expect(status).toEqual({
      id: 'n1',
      role: Role.Leader,
      term: s.term,
      leader: 'n1',
      commit: s.commit,
      applied: 9,
      lastIndex: 12,
      snapshotIndex: 5,
      voters: ['n1', 'n2'],
      learners: ['n3'],
    });
    expect(s.term).toBeGreaterThan(0);
    // A copy: the caller may keep or change it without touching the node's configuration.
    status.voters.push('n9');
    expect(applied.voters).toEqual(['n1', 'n2']);
  });
});
