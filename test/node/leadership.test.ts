/**
 * Leader tracking and handover alone (the Leadership class of src/node/leadership.ts), over the
 * real consensus core of the synchronous test network (test/raft/helpers.ts): the leader and the
 * last known one through an election; a handover goes to the most caught-up reachable voter and
 * resolves with the next leader, or fails with the reason.
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { NotLeaderError, TransferTimeoutError, UnknownMemberError } from '../../src/node/errors.ts';
import { Leadership } from '../../src/node/leadership.ts';
import { type Member, Members } from '../../src/node/members.ts';
import { NONE, Role } from '../../src/raft/types.ts';
import { Network } from '../raft/helpers.ts';

const member = (id: string): Member => ({ id, host: '127.0.0.1', port: 6000, httpPort: 7000 });

function setup(links: Record<string, { state: string }> = {}) {
  const net = new Network(['n1', 'n2', 'n3']);
  net.elect('n1');
  net.propose('n1', 'a');
  const events = new EventEmitter<{ leader: [string] }>();
  const changes: string[] = [];
  const leadership = new Leadership(
    {
      core: net.get('n1').node,
      members: new Members(['n1', 'n2', 'n3'].map(member)),
      events,
      voters: () => ['n1', 'n2', 'n3'],
      links: () => links,
      scheduleReady: () => {},
      leaderChanged: (id) => changes.push(id),
    },
    { id: 'n1' },
    pino({ level: 'silent' }),
  );
  return { net, events, changes, leadership };
}

describe('Leadership', () => {
  it('tracks the leader, and names the last known one while an election is on', () => {
    const { leadership, changes } = setup();
    leadership.update(Role.Follower, 'n2');
    expect(leadership.leader()).toEqual(member('n2'));
    leadership.update(Role.PreCandidate, NONE);
    expect(leadership.leader()).toBeUndefined();
    expect(leadership.lastKnownLeader()).toEqual(member('n2'));
    leadership.update(Role.Leader, 'n1');
    leadership.update(Role.Leader, 'n1');
    expect(leadership.isLeader()).toBe(true);
    expect(changes).toEqual(['n2', NONE, 'n1']);
  });

  it('hands over to the most caught-up voter it can reach, and resolves with the new leader', async () => {
    const { net, leadership, events } = setup({ n2: { state: 'connecting' }, n3: { state: 'connected' } });
    leadership.update(Role.Leader, 'n1');
    const handover = leadership.transfer(undefined, 60_000);
    expect(net.get('n1').node.leadTransferee).toBe('n3');
    events.emit('leader', NONE); // an election in between does not count
    events.emit('leader', 'n3');
    await expect(handover).resolves.toBe('n3');
  });

  it('refuses on a follower, an unknown or unreachable target, and times out without a new leader', async () => {
    const { leadership } = setup({ n2: { state: 'connected' } });
    await expect(leadership.transfer('n2', 60_000)).rejects.toBeInstanceOf(NotLeaderError);
    leadership.update(Role.Leader, 'n1');
    await expect(leadership.transfer('n9', 60_000)).rejects.toBeInstanceOf(UnknownMemberError);
    await expect(leadership.transfer('n1', 60_000)).rejects.toBeInstanceOf(UnknownMemberError);
    await expect(leadership.transfer('n2', 20)).rejects.toBeInstanceOf(TransferTimeoutError);
    const unreachable = setup({ n2: { state: 'connecting' } });
    unreachable.leadership.update(Role.Leader, 'n1');
    await expect(unreachable.leadership.transfer(undefined, 60_000)).rejects.toThrow('(no other reachable voter)');
  });
});
