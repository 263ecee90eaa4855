/**
 * This node's pub/sub subscribers. Channels and patterns are kept as latin1 strings (lossless
 * for any bytes). Messages arrive from the log in commit order (RaftNode's 'publish' event), so
 * every node delivers the same messages in the same order.
 */
import { globMatch } from '../../kv/index.ts';
import type { ClientConn } from '../conn.ts';
import { R } from '../reply.ts';

const MESSAGE = R.bulk('message');
const PMESSAGE = R.bulk('pmessage');

export class Subscriptions {
  private readonly channels = new Map<string, Set<ClientConn>>();
  private readonly patterns = new Map<string, Set<ClientConn>>();

  /** Adds `conn` to a channel (or pattern); false if it was already there. */
  subscribe(conn: ClientConn, name: string, pattern: boolean): boolean {
    const own = pattern ? conn.patterns : conn.channels;
    if (own.has(name)) return false;
    own.add(name);
    const index = pattern ? this.patterns : this.channels;
    const set = index.get(name);
    if (set) set.add(conn);
    else index.set(name, new Set([conn]));
    return true;
  }

  /** Removes `conn` from a channel (or pattern); false if it was not there. */
  unsubscribe(conn: ClientConn, name: string, pattern: boolean): boolean {
    const own = pattern ? conn.patterns : conn.channels;
    if (!own.delete(name)) return false;
    const index = pattern ? this.patterns : this.channels;
    const set = index.get(name);
    if (set) {
      set.delete(conn);
      if (set.size === 0) index.delete(name);
    }
    return true;
  }

  /** Drops every subscription of a connection that is gone or RESET. */
  dropAll(conn: ClientConn): void {
    for (const ch of [...conn.channels]) this.unsubscribe(conn, ch, false);
    for (const p of [...conn.patterns]) this.unsubscribe(conn, p, true);
  }

  /**
   * Delivers one message to this node's subscribers (channel subscribers first, then pattern
   * matches, as Redis does) and returns how many deliveries were made.
   */
  deliver(channel: Buffer, message: Buffer): number {
    const name = channel.toString('latin1');
    let n = 0;
    const direct = this.channels.get(name);
    if (direct) {
      const reply = R.push([MESSAGE, R.bulk(channel), R.bulk(message)]);
      for (const conn of direct) conn.push(reply);
      n += direct.size;
    }
    for (const [pattern, conns] of this.patterns) {
      if (!globMatch(pattern, name)) continue;
      const reply = R.push([PMESSAGE, R.bulk(Buffer.from(pattern, 'latin1')), R.bulk(channel), R.bulk(message)]);
      for (const conn of conns) conn.push(reply);
      n += conns.size;
    }
    return n;
  }

  /**
   * How many deliveries a message on `channel` makes here. PUBLISH answers with this once its
   * entry is applied: the delivery ran synchronously in apply, and no subscription can change
   * between it and the promise continuation that asks.
   */
  receivers(channel: Buffer): number {
    const name = channel.toString('latin1');
    let n = this.channels.get(name)?.size ?? 0;
    for (const [pattern, conns] of this.patterns) if (globMatch(pattern, name)) n += conns.size;
    return n;
  }

  /** Channels with at least one subscriber, optionally matching a glob (PUBSUB CHANNELS). */
  activeChannels(pattern?: string): string[] {
    const out: string[] = [];
    for (const name of this.channels.keys()) if (pattern === undefined || globMatch(pattern, name)) out.push(name);
    return out;
  }

  /** Subscribers of one channel (PUBSUB NUMSUB). */
  subscribers(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Distinct patterns subscribed to (PUBSUB NUMPAT, INFO pubsub_patterns). */
  get patternCount(): number {
    return this.patterns.size;
  }
}
