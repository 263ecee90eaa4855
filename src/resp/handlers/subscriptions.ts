/**
 * This node's pub/sub subscribers: channels, patterns and (Redis 7) shard channels, three
 * separate namespaces as in Redis (SPUBLISH ch reaches SSUBSCRIBE ch only, PUBLISH ch never
 * does). Names are kept as latin1 strings (lossless for any bytes). Messages arrive from the log
 * in commit order (RaftNode's 'publish' event), so every node delivers the same messages in the
 * same order; a shard message comes from its group's log and reaches that group's replicas.
 */
import { globMatch } from '../../kv/index.ts';
import type { ClientConn } from '../conn.ts';
import { R } from '../reply.ts';

const MESSAGE = R.bulk('message');
const PMESSAGE = R.bulk('pmessage');
const SMESSAGE = R.bulk('smessage');

/** SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE. */
export type SubscriptionKind = 'channel' | 'pattern' | 'shard';

/** The connection's own set of names of one kind. */
export function ownNames(conn: ClientConn, kind: SubscriptionKind): Set<string> {
  return kind === 'channel' ? conn.channels : kind === 'pattern' ? conn.patterns : conn.shardChannels;
}

export class Subscriptions {
  private readonly channels = new Map<string, Set<ClientConn>>();
  private readonly patterns = new Map<string, Set<ClientConn>>();
  private readonly shardChannels = new Map<string, Set<ClientConn>>();

  private index(kind: SubscriptionKind): Map<string, Set<ClientConn>> {
    return kind === 'channel' ? this.channels : kind === 'pattern' ? this.patterns : this.shardChannels;
  }

  /** Adds `conn` to a channel (or pattern, or shard channel); false if it was already there. */
  subscribe(conn: ClientConn, name: string, kind: SubscriptionKind): boolean {
    const own = ownNames(conn, kind);
    if (own.has(name)) return false;
    own.add(name);
    const index = this.index(kind);
    const set = index.get(name);
    if (set) set.add(conn);
    else index.set(name, new Set([conn]));
    return true;
  }

  /** Removes `conn` from a channel (or pattern, or shard channel); false if it was not there. */
  unsubscribe(conn: ClientConn, name: string, kind: SubscriptionKind): boolean {
    const own = ownNames(conn, kind);
    if (!own.delete(name)) return false;
    const index = this.index(kind);
    const set = index.get(name);
    if (set) {
      set.delete(conn);
      if (set.size === 0) index.delete(name);
    }
    return true;
  }

  /** Drops every subscription of a connection that is gone or RESET. */
  dropAll(conn: ClientConn): void {
    for (const ch of [...conn.channels]) this.unsubscribe(conn, ch, 'channel');
    for (const p of [...conn.patterns]) this.unsubscribe(conn, p, 'pattern');
    for (const ch of [...conn.shardChannels]) this.unsubscribe(conn, ch, 'shard');
  }

  /** Delivers an SPUBLISH message to this node's subscribers of the shard channel. */
  deliverShard(channel: Buffer, message: Buffer): number {
    const subs = this.shardChannels.get(channel.toString('latin1'));
    if (subs === undefined) return 0;
    const reply = R.push([SMESSAGE, R.bulk(channel), R.bulk(message)]);
    for (const conn of subs) conn.push(reply);
    return subs.size;
  }

  /** SPUBLISH's answer: this node's subscribers of the shard channel (see `receivers`). */
  shardReceivers(channel: Buffer): number {
    return this.shardChannels.get(channel.toString('latin1'))?.size ?? 0;
  }

  /** Shard channels with at least one subscriber, optionally matching a glob (PUBSUB SHARDCHANNELS). */
  activeShardChannels(pattern?: string): string[] {
    const out: string[] = [];
    for (const name of this.shardChannels.keys()) if (pattern === undefined || globMatch(pattern, name)) out.push(name);
    return out;
  }

  /** Subscribers of one shard channel (PUBSUB SHARDNUMSUB). */
  shardSubscribers(channel: string): number {
    return this.shardChannels.get(channel)?.size ?? 0;
  }

  /** INFO pubsubshard_channels. */
  get shardChannelCount(): number {
    return this.shardChannels.size;
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
