/**
 * Coalesced heartbeats: the heartbeats and heartbeat responses that all groups send one peer
 * within one event-loop turn travel as one Heartbeats frame of compact entries, and are expanded
 * on receipt into the per-group messages they stand for (CockroachDB's coalesced heartbeats).
 *
 * An idle group's only traffic is its leader's heartbeat to each follower every heartbeat
 * interval and their answers. Sent as ordinary messages each costs a full message header (type,
 * flags, both node ids, five numbers, an entry count) and its own length prefix; here it costs
 * its group, a flag byte, its term and its commit (4 bytes for small numbers), since the sender
 * and receiver are the link's two authenticated ends and every other field is zero. See
 * docs/performance.md ("Idle groups") for what that saves.
 *
 * Frame body: count · (group · flags u8 (1 response, 2 context) · term · commit · [context bytes])*
 *
 * Only a heartbeat the compact form holds exactly is coalesced (`coalescible`): expanding an
 * entry gives back the very message that was sent, field for field. Anything else (a heartbeat
 * with a reject flag, say, which the core never sends) travels in the ordinary batch.
 */
import { type Message, MessageType, type NodeId } from '../raft/types.ts';
import { bytesSize, CodecError, CodecErrorReason, checkUint, type Reader, varintSize } from './bytes.ts';
import { checkGroup, FrameKind, type GroupBatch, HEADER_SIZE, logNumber, newFrame, readGroup } from './codec.ts';
import type { GroupId } from './groups.ts';

const Flag = { Response: 1, Context: 2 } as const;
const ALL_FLAGS = Flag.Response | Flag.Context;
/** group, flags, term, commit: one byte each at least. */
const MIN_ENTRY_SIZE = 4;
/**
 * Most entries in one frame, sent or accepted. A sender splits at maxBatchBytes (256 KiB: at
 * most this many 4-byte entries) anyway; the cap keeps a member's 16 MiB frame of minimal
 * entries from expanding into four million message objects at once.
 */
export const MAX_HEARTBEATS_PER_FRAME = 65_536;

/** Whether `m` travels coalesced: a heartbeat (or response) with nothing the compact form drops. */
export function coalescible(m: Message): boolean {
  return (
    (m.type === MessageType.Heartbeat || m.type === MessageType.HeartbeatResp) &&
    m.logTerm === 0 &&
    m.index === 0 &&
    m.entries.length === 0 &&
    !m.reject &&
    m.rejectHint === 0 &&
    m.snapshot === undefined
  );
}

/** Size of `m`'s entry in a Heartbeats frame; validates what it writes, as messageSize does. */
export function heartbeatSize(group: GroupId, m: Message): number {
  checkGroup(group);
  checkUint(m.term, 'term');
  checkUint(m.commit, 'commit');
  return varintSize(group) + 1 + varintSize(m.term) + varintSize(m.commit) + (m.context ? bytesSize(m.context) : 0);
}

/** Frame size of the heartbeats whose entry sizes are `sizes`. */
export function heartbeatsFrameSize(sizes: readonly number[]): number {
  let n = HEADER_SIZE + varintSize(sizes.length);
  for (const s of sizes) n += s;
  return n;
}

/** One Heartbeats frame: message i of `groups[i]`, whose entry size is `sizes[i]` (heartbeatSize). */
export function encodeHeartbeats(groups: readonly GroupId[], messages: readonly Message[], sizes: readonly number[]): Buffer {
  const w = newFrame(FrameKind.Heartbeats, heartbeatsFrameSize(sizes) - HEADER_SIZE);
  w.varint(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    w.varint(groups[i]);
    w.u8((m.type === MessageType.HeartbeatResp ? Flag.Response : 0) | (m.context ? Flag.Context : 0));
    w.varint(m.term);
    w.varint(m.commit);
    if (m.context) w.bytes(m.context);
  }
  return w.finish();
}

/**
 * Expands a Heartbeats frame body sent by `from` to `to` (the link's authenticated ends) into
 * the messages it stands for. Contexts are views into the frame, as in batches.
 */
export function readHeartbeats(r: Reader, from: NodeId, to: NodeId): GroupBatch {
  const n = r.count(MIN_ENTRY_SIZE, 'heartbeat count');
  if (n > MAX_HEARTBEATS_PER_FRAME) {
    throw new CodecError(CodecErrorReason.Malformed, `${n} heartbeats in one frame, at most ${MAX_HEARTBEATS_PER_FRAME}`);
  }
  const groups: GroupId[] = new Array(n);
  const messages: Message[] = new Array(n);
  for (let i = 0; i < n; i++) {
    groups[i] = readGroup(r);
    const flags = r.u8('heartbeat flags');
    if ((flags & ~ALL_FLAGS) !== 0) throw new CodecError(CodecErrorReason.Malformed, `unknown heartbeat flags ${flags}`);
    const m: Message = {
      type: flags & Flag.Response ? MessageType.HeartbeatResp : MessageType.Heartbeat,
      from,
      to,
      term: logNumber(r, 'term'),
      logTerm: 0,
      index: 0,
      entries: [],
      commit: logNumber(r, 'commit'),
      reject: false,
      rejectHint: 0,
    };
    if (flags & Flag.Context) m.context = r.bytesField('context');
    messages[i] = m;
  }
  r.done('heartbeats');
  return { groups, messages };
}
