/**
 * The leader's side of the follower proxy: runs a unit of commands a follower forwarded, on a
 * connection of its own that lives for that unit, through the same dispatcher as its own
 * clients (router checks, guard, handlers, per-connection ordering), and answers each command
 * with its reply bytes, encoded in the client's protocol version.
 *
 * Identity: the follower authenticated the client before forwarding (the router answers NOAUTH
 * there), and only an authenticated member can send on a peer link, so the connection here is
 * authenticated as the one user, "default". WATCHed versions come with the unit (they are log
 * indexes, the same on every replica), so EXEC checks them at apply time as for a local client.
 *
 * A reply that says "not here" (MOVED or CLUSTERDOWN: this node is not the leader) is sent as
 * `NotRun`, never as bytes: the command did not run, and the follower may send it to the new
 * leader. A forwarded connection never forwards again (`isForwarded`), so a unit that reaches a
 * follower is refused there rather than bounced around.
 */
import type { ClientConn } from '../conn.ts';
import { type ClientMemory, ClientConn as Conn, type ConnectionControl } from '../conn.ts';
import { DeferredReply, type DeferredReplyOwner } from '../deferred-reply.ts';
import { encodeReply } from '../encoder.ts';
import { PROXY_ERRORS, thrownReply } from '../errors.ts';
import type { Reply } from '../reply.ts';
import type { Answer } from '../server.ts';
import { type ForwardReply, type ForwardRequest, ForwardStatus } from './wire.ts';

/** What the executor needs from the node's RESP front end. */
export interface ExecutorHost {
  dispatch(conn: ClientConn, argv: Buffer[]): Answer;
  /** The connection is done: drop anything it may have subscribed or watched. */
  disconnected(conn: ClientConn): void;
  /** A handler threw something other than a CommandError (a bug). */
  onError(err: unknown): void;
}

const forwarded = new WeakSet<ClientConn>();

/** The connection runs commands a follower forwarded: it must not forward them again. */
export function isForwarded(conn: ClientConn): boolean {
  return forwarded.has(conn);
}

const NO_MEMORY: ClientMemory = { qbuf: 0, argvMem: 0, multiMem: 0, obl: 0, oll: 0, omem: 0, total: 0 };

/** A reply is "not here": the node is not the leader (router guard or runtime redirect). */
function notHere(r: Reply): boolean {
  if (r.t !== 'error') return false;
  const v = typeof r.v === 'string' ? r.v : r.v.toString('latin1');
  return v.startsWith('MOVED ') || v.startsWith('CLUSTERDOWN ');
}

function isPromise(a: Answer): a is Promise<Reply> {
  return typeof (a as Promise<Reply>).then === 'function';
}

/** The connection control of a forwarded unit: nothing to push to, nothing to close. */
class UnitControl implements ConnectionControl, DeferredReplyOwner {
  conn!: Conn;
  readonly waiting = new Map<DeferredReply, (r: Reply) => void>();
  push(): void {}
  defer(): DeferredReply {
    return new DeferredReply(this, this.conn.resp);
  }
  settled(d: DeferredReply): void {
    const done = this.waiting.get(d);
    if (done === undefined) return;
    this.waiting.delete(d);
    done(d.reply as Reply);
  }
  closeAfterReply(): void {}
  close(): void {}
  memory(): ClientMemory {
    return NO_MEMORY;
  }
}

/**
 * Runs `req` and calls `answer` once per command, in any order. `maxReplyBytes`: a reply that
 * would not fit one peer frame is replaced by an error saying so.
 */
export function runUnit(host: ExecutorHost, from: string, req: ForwardRequest, maxReplyBytes: number, answer: (r: ForwardReply) => void): void {
  const control = new UnitControl();
  const conn = new Conn(0, `peer:${from}`, 'proxy', -1, Date.now(), true, control);
  control.conn = conn;
  forwarded.add(conn);
  conn.resp = req.resp;
  for (const [key, version] of req.watches) conn.watched.set(key, version);
  conn.watchDirty = req.watchDirty;
  let left = req.commands.length;
  const finish = (index: number, reply: Reply): void => {
    let status: ForwardStatus = ForwardStatus.Reply;
    let bytes: Buffer = Buffer.alloc(0);
    if (notHere(reply)) {
      status = ForwardStatus.NotRun;
    } else {
      bytes = encodeReply(reply, conn.resp);
      if (bytes.length > maxReplyBytes) bytes = encodeReply(PROXY_ERRORS.replyTooBig(bytes.length), conn.resp);
    }
    answer({ id: req.id, index, status, bytes });
    if (--left === 0) host.disconnected(conn);
  };
  for (let i = 0; i < req.commands.length; i++) {
    let a: Answer;
    try {
      a = host.dispatch(conn, req.commands[i]);
    } catch (err) {
      a = thrownReply(err, host.onError);
    }
    if (a instanceof DeferredReply) {
      if (a.reply !== null) finish(i, a.reply);
      else control.waiting.set(a, (r) => finish(i, r));
    } else if (isPromise(a)) {
      a.then(
        (r) => finish(i, r),
        (err: unknown) => finish(i, thrownReply(err, host.onError)),
      );
    } else {
      finish(i, a);
    }
  }
  if (req.commands.length === 0) host.disconnected(conn);
}
