/**
 * A reply that a handler owes later, without a promise: the handler takes one from
 * `ClientConn.defer()`, returns it at once (which gives it its place in the connection's reply
 * queue), and settles it when the answer is known. Many settled in one turn leave in one write.
 *
 * It exists for the hot read path: a pipelined GET costs one small object here instead of a
 * promise, its reactions and their closures.
 */

import type { RespVersion } from './encoder.ts';
import { DeferredReplySettledError } from './errors.ts';
import type { Reply } from './reply.ts';

/** The connection that queued the reply, told when it is settled. */
export interface DeferredReplyOwner {
  settled(d: DeferredReply): void;
}

export class DeferredReply {
  /** Null until settled. */
  reply: Reply | null = null;
  /** For the owner: it counts this reply among the connection's requests in flight. */
  inFlight = false;

  constructor(
    private readonly owner: DeferredReplyOwner,
    /** The protocol version the reply is encoded in (the connection's when it was requested). */
    readonly proto: RespVersion,
  ) {}

  /** Gives the reply; it is written once every earlier reply of the connection is. */
  settle(reply: Reply): void {
    if (this.reply !== null) throw new DeferredReplySettledError();
    this.reply = reply;
    this.owner.settled(this);
  }
}
