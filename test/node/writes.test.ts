/**
 * The write path alone (src/node/writes.ts), over the real consensus core of the synchronous
 * test network (test/raft/helpers.ts) and real proposal waiters: a turn's writes reach the core
 * as one proposal and each caller gets its own entry's result; a write this node cannot take is
 * redirected to the next leader, once one is known; a closed node refuses.
 */
import { describe, expect, it } from 'vitest';
import { NodeClosedError, NotLeaderError } from '../../src/node/errors.ts';
import type { Member } from '../../src/node/members.ts';
import { ProposalWaiters } from '../../src/node/waiters.ts';
import { Writes, type WritesHost } from '../../src/node/writes.ts';
import type { RawNode } from '../../src/raft/index.ts';
import { MessageType, NONE } from '../../src/raft/types.ts';
import { enc, msg, Network } from '../raft/helpers.ts';

const member = (id: string): Member => ({ id, host: '127.0.0.1', port: 6000, httpPort: 7000 });
const cfg = { id: 'n1', tickMs: 10, electionTicks: 10, requestTimeoutMs: 5000 };

function setup(core: RawNode, over: Partial<WritesHost> = {}) {
  const proposals = new ProposalWaiters();
  const waits: number[] = [];
  let announce: (id: string) => void = () => {};
  let scheduled = 0;
  const host: WritesHost = {
    core,
    closed: () => false,
    leaderId: () => NONE,
    leader: () => member('n2'),
    nextLeader: (timeoutMs) => {
      waits.push(timeoutMs);
      return new Promise((resolve) => {
        announce = resolve;
      });
    },
    scheduleReady: () => {
      scheduled++;
    },
    proposals,
    ...over,
  };
  return { writes: new Writes(host, cfg), proposals, waits, announce: (id: string) => announce(id), scheduled: () => scheduled };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('Writes', () => {
  it("a turn's writes reach the core as one proposal; each caller gets its own entry's result", async () => {
    const net = new Network(['n1']);
    net.elect('n1');
    const n1 = net.get('n1');
    const h = setup(n1.node);
    const last = n1.status().commit;
    const a = h.writes.propose(enc('a'));
    const b = h.writes.propose(enc('b'));
    expect(h.writes.queued).toBe(2);
    expect(h.scheduled()).toBe(2);
    expect(n1.node.logEntries(last + 1, Number.POSITIVE_INFINITY)).toEqual([]);
    h.writes.flush();
    const proposed = n1.node.logEntries(last + 1, Number.POSITIVE_INFINITY);
    expect(proposed.map((e) => new TextDecoder().decode(e.data))).toEqual(['a', 'b']);
    expect(h.writes.queued).toBe(0);
    h.proposals.applied(proposed[1].index, proposed[1].term, 'result b');
    h.proposals.applied(proposed[0].index, proposed[0].term, 'result a');
    await expect(Promise.all([a, b])).resolves.toEqual(['result a', 'result b']);
  });

  it('a follower that knows no leader waits for one (two election timeouts at most), then redirects', async () => {
    const net = new Network(['n1', 'n2', 'n3']);
    const h = setup(net.get('n1').node);
    let answer: unknown;
    h.writes.propose(enc('x')).catch((err) => {
      answer = err;
    });
    await turn();
    expect(answer).toBeUndefined();
    expect(h.waits).toEqual([2 * cfg.tickMs * cfg.electionTicks]);
    h.announce('n2');
    await turn();
    expect(answer).toBeInstanceOf(NotLeaderError);
    expect((answer as NotLeaderError).leader).toEqual(member('n2'));
  });

  it('writes taken before the core stepped down are redirected as one batch when flushed', async () => {
    const net = new Network(['n1', 'n2', 'n3']);
    net.elect('n1');
    const n1 = net.get('n1');
    // The Ready loop has not yet reported the step-down: the node still names itself leader.
    const h = setup(n1.node, { leaderId: () => 'n1' });
    const writes = [h.writes.propose(enc('a')), h.writes.propose(enc('b'))];
    n1.node.step(msg({ type: MessageType.Heartbeat, from: 'n2', to: 'n1', term: n1.status().term + 1 }));
    expect(n1.node.isLeader).toBe(false);
    h.writes.flush();
    expect(h.waits).toHaveLength(1);
    h.announce('n2');
    for (const w of writes) await expect(w).rejects.toBeInstanceOf(NotLeaderError);
    expect(h.proposals.size).toBe(0);
  });

  it('a closed leader refuses at once', async () => {
    const net = new Network(['n1']);
    net.elect('n1');
    const h = setup(net.get('n1').node, { closed: () => true });
    await expect(h.writes.propose(enc('x'))).rejects.toBeInstanceOf(NodeClosedError);
    expect(h.writes.queued).toBe(0);
  });
});
