/**
 * Membership alone (src/node/membership.ts), over the real consensus core of a synchronous test
 * network (test/raft/helpers.ts) and real proposal waiters: learners are promoted only once
 * caught up and one change at a time; a committed change takes only the address record of the
 * node it is about; peer links follow the configuration and the address book.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { UnsafeReconfigError } from '../../src/node/errors.ts';
import { encodeMember, type Member, Members } from '../../src/node/members.ts';
import { Membership, type MembershipHost } from '../../src/node/membership.ts';
import { ProposalFailedError, ProposalWaiters } from '../../src/node/waiters.ts';
import { encodeConfChange, type RawNode } from '../../src/raft/index.ts';
import { ConfChangeType, type Entry, EntryType } from '../../src/raft/types.ts';
import type { Peer } from '../../src/transport/index.ts';
import { Network } from '../raft/helpers.ts';

const member = (id: string, httpPort = 7000): Member => ({ id, host: '127.0.0.1', port: 6000, httpPort });

/** `quiet`: peers not heard from (the strict reconfiguration check counts them as down); the rest were heard just now. */
function setup(core: RawNode, book: Member[], peerCertFile = '', quiet = new Set<string>(), unlinked = new Set<string>()) {
  const proposals = new ProposalWaiters();
  const peers: Peer[][] = [];
  const host: MembershipHost = {
    core,
    isLeader: () => core.isLeader,
    closed: () => false,
    leader: () => undefined,
    proposals,
    writeTimeoutMs: () => 60_000,
    scheduleReady: () => {},
    setPeers: (p) => peers.push(p),
    removal: { applied: () => {}, removed: false },
    sinceMs: (id) => (quiet.has(id) ? undefined : 0),
    linkUp: (id) => !unlinked.has(id),
  };
  const members = new Members(book);
  const cfg = { id: 'n1', tickMs: 10, peerCertFile, electionTimeout: 100 };
  const membership = new Membership(host, members, cfg, pino({ level: 'silent' }));
  return { membership, members, proposals, peers };
}

describe('Membership', () => {
  it('promotes a learner once it has caught up with the commit index, one change at a time', () => {
    const net = new Network(['n1', 'n2', 'n3'], { learners: ['n3'] });
    net.elect('n1');
    const n1 = net.get('n1');
    const { membership, proposals } = setup(n1.node, [member('n1'), member('n2'), member('n3')]);
    membership.restored({ voters: ['n1', 'n2'], learners: ['n3'] });

    // n3 misses a write: behind the commit index, it stays a learner.
    net.cut('n1', 'n3');
    net.propose('n1', 'a');
    membership.promoteCaughtUpLearners();
    expect(proposals.size).toBe(0);
    net.stabilize();
    expect(n1.status().conf).toEqual({ voters: ['n1', 'n2'], learners: ['n3'] });

    // Caught up again (heartbeats bring the missing entry): one promotion is proposed, and a
    // second call while it is pending proposes nothing more.
    net.heal();
    net.tick('n1', 3);
    expect(n1.status().progress?.n3.match).toBe(n1.status().commit);
    membership.promoteCaughtUpLearners();
    expect(proposals.size).toBe(1);
    const last = n1.node.logEntries(n1.status().commit + 1, Number.POSITIVE_INFINITY);
    expect(last).toHaveLength(1);
    expect(last[0].type).toBe(EntryType.ConfChange);
    membership.promoteCaughtUpLearners();
    expect(n1.node.logEntries(n1.status().commit + 1, Number.POSITIVE_INFINITY)).toHaveLength(1);
    net.stabilize();
    expect(n1.status().conf).toEqual({ voters: ['n1', 'n2', 'n3'], learners: [] });
  });

  it('does not promote a caught-up learner that has gone quiet (it would be a voter the quorum cannot count on)', () => {
    const net = new Network(['n1', 'n2', 'n3', 'n4'], { learners: ['n4'] });
    net.elect('n1');
    const n1 = net.get('n1');
    const quiet = new Set(['n3']);
    const { membership, proposals } = setup(
      n1.node,
      ['n1', 'n2', 'n3', 'n4'].map((id) => member(id)),
      '',
      quiet,
    );
    membership.restored({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    net.stabilize();
    expect(n1.status().progress?.n4.match).toBe(n1.status().commit);
    // n3 down and n4 quiet: 2 of the 4 voters n4 would make are active, short of 3.
    quiet.add('n4');
    membership.promoteCaughtUpLearners();
    expect(proposals.size).toBe(0);
    quiet.delete('n4');
    membership.promoteCaughtUpLearners();
    expect(proposals.size).toBe(1);
  });

  it('refuses to remove the down voter of two (the removal could never commit) unless forced', async () => {
    const net = new Network(['n1', 'n2']);
    net.elect('n1');
    const n1 = net.get('n1');
    const { membership, proposals } = setup(n1.node, [member('n1'), member('n2')], '', new Set(['n2']));
    membership.restored({ voters: ['n1', 'n2'], learners: [] });
    await expect(membership.remove('n2')).rejects.toThrow(
      /^removing n2 would leave 1 of 2 voters active to commit it, short of a quorum of 2 \(not heard from within an election timeout: n2\); a change that cannot commit would wedge the cluster; pass force/,
    );
    await expect(membership.add(member('n3'))).rejects.toThrow(UnsafeReconfigError);
    expect(proposals.size).toBe(0);
    const forced = membership.remove('n2', { force: true });
    expect(proposals.size).toBe(1);
    forced.catch(() => undefined);
  });

  it('counts a voter heard from a moment ago as down once its link is (a killed peer drops it at once)', async () => {
    const net = new Network(['n1', 'n2', 'n3']);
    net.elect('n1');
    const unlinked = new Set(['n3']);
    const { membership, proposals } = setup(
      net.get('n1').node,
      ['n1', 'n2', 'n3'].map((id) => member(id)),
      '',
      new Set(),
      unlinked,
    );
    membership.restored({ voters: ['n1', 'n2', 'n3'], learners: [] });
    await expect(membership.remove('n2')).rejects.toThrow(/^removing n2 would leave 1 of 2 voters active, .*: n3\)/);
    unlinked.clear();
    void membership.remove('n2').catch(() => undefined);
    expect(proposals.size).toBe(1);
  });

  it('a committed change records only the address of the node it is about', async () => {
    const net = new Network(['n1']);
    net.elect('n1');
    const { membership, members, proposals, peers } = setup(net.get('n1').node, [member('n1')]);
    membership.restored({ voters: ['n1'], learners: [] });
    const change = (index: number, node: string, context?: Uint8Array): Entry => ({
      index,
      term: 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddLearner, node, ...(context ? { context } : {}) }),
    });

    // A record naming n5 in n4's change: n4 joins the configuration, without an address.
    const forged = proposals.wait(10, 1, Number.POSITIVE_INFINITY);
    membership.apply(change(10, 'n4', encodeMember(member('n5'))));
    await expect(forged).resolves.toEqual({ voters: ['n1'], learners: ['n4'] });
    expect(members.get('n4')).toBeUndefined();
    expect(members.get('n5')).toBeUndefined();
    expect(peers.at(-1)).toEqual([]);

    const honest = proposals.wait(11, 1, Number.POSITIVE_INFINITY);
    membership.apply(change(11, 'n6', encodeMember(member('n6', 7006))));
    await expect(honest).resolves.toEqual({ voters: ['n1'], learners: ['n4', 'n6'] });
    expect(members.get('n6')).toEqual(member('n6', 7006));
    expect(peers.at(-1)).toEqual([{ id: 'n6', url: 'ws://127.0.0.1:7006/raft/v1' }]);

    // An undecodable change is a no-op that fails only its own caller.
    const broken = proposals.wait(12, 1, Number.POSITIVE_INFINITY);
    membership.apply({ index: 12, term: 1, type: EntryType.ConfChange, data: new Uint8Array([0xff, 0xff]) });
    await expect(broken).rejects.toBeInstanceOf(ProposalFailedError);
    expect(membership.conf).toEqual({ voters: ['n1'], learners: ['n4', 'n6'] });
  });

  it('links go to configured members with an address and to known addresses, never to itself', () => {
    const net = new Network(['n1']);
    // n9 is in the address book only (a --join node's --peers); n3 is configured without one.
    const { membership, peers } = setup(net.get('n1').node, [member('n1'), member('n2', 7002), member('n9', 7009)], '/certs/peer.pem');
    membership.restored({ voters: ['n1', 'n2'], learners: ['n3'] });
    expect(peers.at(-1)).toEqual([
      { id: 'n2', url: 'wss://127.0.0.1:7002/raft/v1' },
      { id: 'n9', url: 'wss://127.0.0.1:7009/raft/v1' },
    ]);
    expect(['n1', 'n2', 'n3', 'n9', 'n7'].map((id) => membership.isPeer(id))).toEqual([true, true, true, true, false]);
  });
});
