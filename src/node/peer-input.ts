/**
 * What comes in from peers, on its way to the core: a snapshot is checked before the core sees
 * it (once the core takes one, it is saved: snapshotter.problem), and a message the core refuses
 * is logged and dropped rather than thrown into the transport. Nothing is stepped once the node
 * is closed. Sees the node only through `PeerInputHost`.
 */
import type { RawNode } from '../raft/index.ts';
import { type Message, MessageType } from '../raft/types.ts';
import type { Logger } from './logger.ts';
import { writeTrace } from './write-trace.ts';

export interface PeerInputHost {
  readonly core: Pick<RawNode, 'step'>;
  closed(): boolean;
  /** Why a received snapshot cannot be installed, or undefined (Snapshotter.problem). */
  snapshotProblem(data: Uint8Array): Promise<string | undefined>;
  /** The core has new input to handle. */
  scheduleReady(): void;
  /** Every message from a peer once stepped, refused or not (the reject-loop guard watches them). */
  stepped?(m: Message): void;
}

export class PeerInput {
  constructor(
    private readonly host: PeerInputHost,
    private readonly log: Logger,
  ) {}

  receive(m: Message): void {
    if (this.host.closed()) return;
    if (m.type === MessageType.Snap && m.snapshot) {
      void this.checkSnapshot(m, m.snapshot.data);
      return;
    }
    this.step(m);
  }

  private async checkSnapshot(m: Message, data: Uint8Array): Promise<void> {
    const problem = await this.host.snapshotProblem(data);
    if (problem === undefined) return this.step(m);
    this.log.warn({ from: m.from, index: m.snapshot?.meta.index, bytes: data.length, problem }, 'dropped a snapshot from a peer that cannot be installed');
  }

  private step(m: Message): void {
    if (this.host.closed()) return;
    if (writeTrace) traceReceived(m);
    try {
      this.host.core.step(m);
    } catch (err) {
      this.log.warn({ err, from: m.from, type: m.type }, 'dropped a peer message the core refused');
    }
    this.host.stepped?.(m);
    this.host.scheduleReady();
  }
}

/** --trace-writes: an App's entries, or an ack of them, arrived (write-trace.ts). */
function traceReceived(m: Message): void {
  if (m.type === MessageType.App) for (const e of m.entries) writeTrace!.stamp('peerReceived', e.index);
  else if (m.type === MessageType.AppResp && !m.reject) writeTrace!.stamp('ackReceived', m.index);
}
