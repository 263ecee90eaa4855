/**
 * How a published message's kind (PUBLISH or SPUBLISH) travels through the log.
 *
 * Both propose the KV `publish` op (src/kv/ops.ts, code 13): a channel and a message, which apply
 * hands back unchanged to every replica (RaftNode's 'publish' event). The op has no field for the
 * kind, so the kind rides in the channel bytes, escaped so that no channel is mistaken for
 * another:
 *
 *   PUBLISH ch    ch                 (as is: every entry written before sharded pub/sub)
 *                 NUL 'P' ch         when ch itself begins with NUL
 *   SPUBLISH ch   NUL 'S' ch
 *
 * Reading: NUL 'S' is a shard message, NUL 'P' a classic one with the two bytes dropped, and
 * anything else a classic channel as is. Only channels beginning with NUL change in the log; a
 * node older than this rule delivers those, and SPUBLISH messages, to nobody (no client
 * subscribes to such names) while versions are mixed.
 *
 * This is the RESP layer's stopgap while src/kv and RaftNode are not its to change: once the op
 * table gains a sharded publish op whose kind the event carries, entries already in logs must
 * still read as above.
 */
const NUL = 0x00;
const SHARD = 0x53; // 'S'
const PLAIN = 0x50; // 'P'

/** The channel field to propose for `channel`. */
export function logChannel(channel: Buffer, shard: boolean): Buffer {
  if (shard) return Buffer.concat([Buffer.from([NUL, SHARD]), channel]);
  if (channel.length > 0 && channel[0] === NUL) return Buffer.concat([Buffer.from([NUL, PLAIN]), channel]);
  return channel;
}

/** The client's channel and the message's kind, from a logged channel field. */
export function readLogChannel(logged: Buffer): { channel: Buffer; shard: boolean } {
  if (logged.length >= 2 && logged[0] === NUL) {
    if (logged[1] === SHARD) return { channel: logged.subarray(2), shard: true };
    if (logged[1] === PLAIN) return { channel: logged.subarray(2), shard: false };
  }
  return { channel: logged, shard: false };
}
