/**
 * PeerInput alone (src/node/peer-input.ts): a snapshot from a peer reaches the core only once
 * it has been checked; a message the core refuses is dropped, not thrown into the transport;
 * nothing is stepped once the node is closed. The core is a recorder here: what is under test is
 * what reaches it.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PeerInput } from '../../src/node/peer-input.ts';
import { type Message, MessageType } from '../../src/raft/types.ts';
import { msg } from '../raft/helpers.ts';

function setup(problem: string | undefined) {
  const stepped: Message[] = [];
  let closed = false;
  let scheduled = 0;
  let release: () => void = () => {};
  const checked = new Promise<void>((r) => {
    release = r;
  });
  const input = new PeerInput(
    {
      core: {
        step: (m: Message) => {
          if (m.type === MessageType.Prop) throw new Error('refused');
          stepped.push(m);
        },
      },
      closed: () => closed,
      snapshotProblem: async () => {
        await checked;
        return problem;
      },
      scheduleReady: () => {
        scheduled++;
      },
    },
    pino({ level: 'silent' }),
  );
  return { input, stepped, release, close: () => (closed = true), scheduled: () => scheduled };
}

const snap = (): Message =>
  msg({
    type: MessageType.Snap,
    from: 'n2',
    to: 'n1',
    term: 2,
    snapshot: { meta: { index: 9, term: 2, conf: { voters: [], learners: [] } }, data: new Uint8Array(4) },
  });
const turn = () => new Promise<void>((r) => setImmediate(r));

describe('PeerInput', () => {
  it('steps a snapshot only after its check passes, and drops one that fails', async () => {
    const good = setup(undefined);
    good.input.receive(snap());
    expect(good.stepped).toHaveLength(0);
    good.release();
    await turn();
    expect(good.stepped.map((m) => m.type)).toEqual([MessageType.Snap]);

    const bad = setup('checksum mismatch');
    bad.input.receive(snap());
    bad.release();
    await turn();
    expect(bad.stepped).toHaveLength(0);
  });

  it('drops what the core refuses and goes on; steps nothing once closed', async () => {
    const h = setup(undefined);
    h.input.receive(msg({ type: MessageType.Prop, from: 'n2', to: 'n1' }));
    h.input.receive(msg({ type: MessageType.Heartbeat, from: 'n2', to: 'n1', term: 2 }));
    expect(h.stepped.map((m) => m.type)).toEqual([MessageType.Heartbeat]);
    expect(h.scheduled()).toBe(2);
    // A snapshot checked while the node closes is not stepped either.
    h.input.receive(snap());
    h.close();
    h.release();
    await turn();
    h.input.receive(msg({ type: MessageType.Heartbeat, from: 'n2', to: 'n1', term: 2 }));
    expect(h.stepped).toHaveLength(1);
  });
});
