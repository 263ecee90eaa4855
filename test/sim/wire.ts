/**
 * The network hooks: what a node sends passes the Network's partitions and weather into the
 * event queue as deliveries (lost, delayed or duplicated), and a message that cannot arrive
 * becomes the sender's report (unreachable, snapshot failed), as the transport reports them to
 * the core. Every send and delivery is folded into the trace hash.
 */
import { type Message, MessageType, type NodeId } from '../../src/raft/index.ts';
import type { Trigger } from './crash-triggers.ts';
import type { EventQueue } from './event-queue.ts';
import { copyMessage, describeMessage, type Network } from './network.ts';
import type { Prng } from './prng.ts';
import type { SimEvent } from './sim-event.ts';
import type { SimNode } from './sim-node.ts';
import { TraceKind as K, type TraceKind, type Tracer } from './trace.ts';

const MSG_CODES: Record<string, number> = Object.fromEntries(Object.values(MessageType).map((t, i) => [t, i + 1]));

export interface WireHost {
  readonly time: number;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  readonly network: Network;
  readonly queue: EventQueue<SimEvent>;
  readonly tracer: Tracer;
  trace(kind: TraceKind, text: string): void;
  /** What a node sends may strike an armed crash (a granted vote, an append ahead of its disk). */
  triggered(node: SimNode, on: Trigger): void;
  /** A message reached its node (the targeted scenarios watch for some). */
  delivered(m: Message): void;
}

export class Wire {
  /** `rng` draws every message's fate (lost, delayed, duplicated), in send order. */
  constructor(
    private readonly host: WireHost,
    private readonly rng: Prng,
  ) {}

  send(node: SimNode, messages: Message[]): void {
    const h = this.host;
    for (const m of messages) {
      if (!h.nodes.has(m.to)) continue;
      h.tracer.mix(4, MSG_CODES[m.type], m.term, m.index);
      if (!h.network.canSend(m.from, m.to)) {
        if (m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-fail');
        else this.report(m.from, m.to, 'unreachable');
        continue;
      }
      if (m.type === MessageType.VoteResp && !m.reject) h.triggered(node, 'vote');
      if (m.type === MessageType.App && m.entries.length > 0 && node.queuedWrites > 0) h.triggered(node, 'sent');
      const delays = h.network.delays(this.rng);
      if (delays.length === 0 && m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-fail');
      for (const d of delays) h.queue.push(h.time + d, { kind: 'deliver', msg: copyMessage(m) });
    }
  }

  deliver(m: Message): void {
    const h = this.host;
    const to = h.nodes.get(m.to);
    const from = h.nodes.get(m.from);
    h.tracer.mix(2, MSG_CODES[m.type], m.term, m.index, m.commit, m.entries.length);
    if (!to?.up || to.decommissioned || from?.decommissioned || !h.network.canSend(m.from, m.to)) {
      if (m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-fail');
      else if (to && !to.decommissioned) this.report(m.from, m.to, 'unreachable');
      return;
    }
    if (h.tracer.enabled) h.trace(K.Net, `deliver ${describeMessage(m)}`);
    to.step(m);
    if (m.type === MessageType.Snap) this.report(m.from, m.to, 'snap-ok');
    h.delivered(m);
  }

  private report(node: NodeId, about: NodeId, what: 'unreachable' | 'snap-ok' | 'snap-fail'): void {
    this.host.queue.push(this.host.time + 1, { kind: 'report', node, about, what });
  }
}
