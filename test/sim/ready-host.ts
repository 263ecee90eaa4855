/**
 * The contract between a simulated node's Ready loop and the simulation: the hooks every Ready
 * goes through, the crash points a fault can arm, and which messages may leave before the disk
 * has what they speak for.
 */
import { type ConfState, type Entry, type Message, MessageType, type Ready, type ReadState, type Snapshot } from '../../src/raft/index.ts';
import type { Command } from './registers.ts';
import type { SimNode } from './sim-node.ts';

/** How an armed crash cuts the next Ready short. */
export const CrashPoint = {
  /**
   * Persisted, but nothing sent. Serial: nothing applied either. Pipelined: the disk catches up
   * at once (a fast disk, a slow transport): every queued write up to this Ready's becomes
   * durable, and the node dies before any of this Ready's messages leave or it advances.
   */
  AfterPersist: 'after-persist',
  /**
   * Serial: a leader that sends before persisting (thesis 10.2.1) crashes between the two.
   * Pipelined: any node dies right after taking the Ready (its early messages sent, its
   * committed entries applied), with its save and every earlier one still queued.
   */
  BeforePersist: 'before-persist',
} as const;
export type CrashPoint = (typeof CrashPoint)[keyof typeof CrashPoint];

/** What the simulation does with a node's output. */
export interface ReadyHost {
  /** Called first with every Ready (a fault may arm a crash for it). */
  observed(node: SimNode, rd: Ready): void;
  /**
   * Called before the Ready touches the disk, with the disk as it was; `leaderTerm` is the term
   * the node led when it took the Ready, if it did.
   */
  beforePersist(node: SimNode, rd: Ready, leaderTerm: number | undefined): void;
  afterPersist(node: SimNode, rd: Ready): void;
  /** Pipelined: the node applies `rd`'s committed entries before `rd`'s hard state is durable. */
  applying(node: SimNode, rd: Ready): void;
  /** Pipelined: a write joined the node's disk queue; its completion must come, in order. */
  diskWrite(node: SimNode): void;
  send(node: SimNode, messages: Message[]): void;
  snapshotInstalled(node: SimNode, snap: Snapshot): void;
  applied(node: SimNode, e: Entry, command: Command | undefined, result: boolean): void;
  confApplied(node: SimNode, e: Entry, conf: ConfState): void;
  readServed(node: SimNode, rs: ReadState): void;
  /** Called once the Ready has been advanced. */
  settled(node: SimNode): void;
  /** The node crashed at an armed crash point. */
  crashed(node: SimNode, point: CrashPoint): void;
}

/** Messages a leader may send before its Ready is durable (types.ts, Ready contract step 2). */
export const EARLY: ReadonlySet<Message['type']> = new Set([MessageType.App, MessageType.Heartbeat, MessageType.Snap]);

/**
 * Answers that vote in an election or acknowledge an append (etcd's msgsAfterAppend): each
 * promises that what the core holds in memory is durable. The core gives them from its whole
 * log and hard state, including what earlier Readies have not made durable yet, so even in a
 * Ready that writes nothing they must wait for every save queued before it.
 */
export const AFTER_APPEND: ReadonlySet<Message['type']> = new Set([MessageType.AppResp, MessageType.VoteResp, MessageType.PreVoteResp]);

/** Which Ready loop a node runs. */
export interface LoopOptions {
  /** The pipelined loop (asynchronous storage writes) instead of the serial one. */
  pipelined: boolean;
  /** Serial loop: the leader sends App/Heartbeat/Snap before persisting, as the contract allows. */
  leaderSendsFirst: boolean;
  /**
   * Pipelined loop: a Ready without mustSync sends all its messages at once, AFTER_APPEND ones
   * included, while earlier saves are still queued. This is what src/node/ready-loop.ts did
   * before 5d66380, and it loses acknowledged writes (docs/testing.md); only for reproducing that.
   */
  eagerResponses: boolean;
}
