/**
 * The body of one Raft message on the peer wire (codec.ts frames it, with its group):
 *
 *   type u8 · flags u8 (1 reject, 2 context, 4 snapshot) · from str · to str ·
 *   term · logTerm · index · commit · rejectHint · [context bytes] ·
 *   entryCount · entries (term · index · type u8 · data bytes)* ·
 *   [snapshot: index · term · voters (count · str*) · learners (count · str*) · data bytes]
 *
 * Sizes are computed exactly before writing (messageSize, which also validates every number);
 * the reader validates as it reads and returns byte fields as views into the frame.
 */
import { type Entry, EntryType, type Message, MessageType, type NodeId, type Snapshot } from '../raft/types.ts';
import { bytesSize, CodecError, CodecErrorReason, checkUint, type Reader, strSize, varintSize, type Writer } from './bytes.ts';

/**
 * Message types that cross the network, in wire order (the index is the wire code). Local
 * types (hup, beat, unreachable, snap-status, check-quorum) are refused in both directions so
 * that a peer can never inject a runtime-only signal into our core.
 */
export const WIRE_TYPES = [
  MessageType.Prop,
  MessageType.App,
  MessageType.AppResp,
  MessageType.Vote,
  MessageType.VoteResp,
  MessageType.PreVote,
  MessageType.PreVoteResp,
  MessageType.Snap,
  MessageType.Heartbeat,
  MessageType.HeartbeatResp,
  MessageType.TransferLeader,
  MessageType.TimeoutNow,
  MessageType.ReadIndex,
  MessageType.ReadIndexResp,
] as const satisfies readonly MessageType[];
const wireCode: ReadonlyMap<MessageType, number> = new Map(WIRE_TYPES.map((t, i) => [t, i]));

const ENTRY_TYPES: ReadonlySet<number> = new Set(Object.values(EntryType));

const Flag = { Reject: 1, Context: 2, Snapshot: 4 } as const;
const ALL_FLAGS = Flag.Reject | Flag.Context | Flag.Snapshot;

/** Smallest possible encodings, used to reject absurd counts before allocating for them. */
const MIN_ENTRY_SIZE = 4;
export const MIN_MESSAGE_SIZE = 10;

function strListSize(list: readonly NodeId[]): number {
  let n = varintSize(list.length);
  for (const s of list) n += strSize(s);
  return n;
}

/** Exact body size of `m`; also validates every number so encoding cannot fail half-way. */
export function messageSize(m: Message): number {
  if (!wireCode.has(m.type)) {
    throw new CodecError(CodecErrorReason.BadType, `message type ${m.type} is local and never crosses the network`);
  }
  checkUint(m.term, 'term');
  checkUint(m.logTerm, 'logTerm');
  checkUint(m.index, 'index');
  checkUint(m.commit, 'commit');
  checkUint(m.rejectHint, 'rejectHint');
  let n =
    2 +
    strSize(m.from) +
    strSize(m.to) +
    varintSize(m.term) +
    varintSize(m.logTerm) +
    varintSize(m.index) +
    varintSize(m.commit) +
    varintSize(m.rejectHint) +
    varintSize(m.entries.length);
  if (m.context) n += bytesSize(m.context);
  for (const e of m.entries) {
    checkUint(e.term, 'entry term');
    checkUint(e.index, 'entry index');
    if (!ENTRY_TYPES.has(e.type)) throw new CodecError(CodecErrorReason.BadType, `entry type ${e.type}`);
    n += varintSize(e.term) + varintSize(e.index) + 1 + bytesSize(e.data);
  }
  const s = m.snapshot;
  if (s) {
    checkUint(s.meta.index, 'snapshot index');
    checkUint(s.meta.term, 'snapshot term');
    n += varintSize(s.meta.index) + varintSize(s.meta.term) + strListSize(s.meta.conf.voters) + strListSize(s.meta.conf.learners) + bytesSize(s.data);
  }
  return n;
}

/** Writes the body of `m`; the writer must have `messageSize(m)` bytes left. */
export function writeMessage(w: Writer, m: Message): void {
  w.u8(wireCode.get(m.type)!);
  w.u8((m.reject ? Flag.Reject : 0) | (m.context ? Flag.Context : 0) | (m.snapshot ? Flag.Snapshot : 0));
  w.str(m.from);
  w.str(m.to);
  w.varint(m.term);
  w.varint(m.logTerm);
  w.varint(m.index);
  w.varint(m.commit);
  w.varint(m.rejectHint);
  if (m.context) w.bytes(m.context);
  w.varint(m.entries.length);
  for (const e of m.entries) {
    w.varint(e.term);
    w.varint(e.index);
    w.u8(e.type);
    w.bytes(e.data);
  }
  const s = m.snapshot;
  if (s) {
    w.varint(s.meta.index);
    w.varint(s.meta.term);
    w.varint(s.meta.conf.voters.length);
    for (const v of s.meta.conf.voters) w.str(v);
    w.varint(s.meta.conf.learners.length);
    for (const l of s.meta.conf.learners) w.str(l);
    w.bytes(s.data);
  }
}

function readStrList(r: Reader, field: string): NodeId[] {
  const n = r.count(1, field);
  const out: NodeId[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.str(field);
  return out;
}

/**
 * The largest term or index a peer may send: 2^52, a million entries a second for 142 years.
 * Anything near 2^53 would make term + 1 or index + n unsafe in the core and storage, so a
 * member that sends one (a bug, or forged) loses its link instead of stopping this node.
 */
export const MAX_LOG_NUMBER = 2 ** 52;

export function logNumber(r: Reader, field: string): number {
  const n = r.varint(field);
  if (n > MAX_LOG_NUMBER) throw new CodecError(CodecErrorReason.Malformed, `${field} ${n} is above 2^52`);
  return n;
}

/** Reads one message body from `r`. */
export function readMessage(r: Reader): Message {
  const code = r.u8('type');
  const type = WIRE_TYPES[code];
  if (type === undefined) throw new CodecError(CodecErrorReason.BadType, `message type code ${code}`);
  const flags = r.u8('flags');
  if ((flags & ~ALL_FLAGS) !== 0) throw new CodecError(CodecErrorReason.Malformed, `unknown flags ${flags}`);
  const from = r.str('from');
  const to = r.str('to');
  const term = logNumber(r, 'term');
  const logTerm = logNumber(r, 'logTerm');
  const index = logNumber(r, 'index');
  const commit = logNumber(r, 'commit');
  const rejectHint = logNumber(r, 'rejectHint');
  const context = flags & Flag.Context ? r.bytesField('context') : undefined;
  const count = r.count(MIN_ENTRY_SIZE, 'entry count');
  const entries: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const eTerm = logNumber(r, 'entry term');
    const eIndex = logNumber(r, 'entry index');
    const eType = r.u8('entry type');
    if (!ENTRY_TYPES.has(eType)) throw new CodecError(CodecErrorReason.BadType, `entry type ${eType}`);
    entries[i] = { term: eTerm, index: eIndex, type: eType as EntryType, data: r.bytesField('entry data') };
  }
  const m: Message = {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & Flag.Reject) !== 0,
    rejectHint,
  };
  if (context) m.context = context;
  if (flags & Flag.Snapshot) m.snapshot = readSnapshot(r);
  return m;
}

function readSnapshot(r: Reader): Snapshot {
  const index = logNumber(r, 'snapshot index');
  const term = logNumber(r, 'snapshot term');
  const voters = readStrList(r, 'voters');
  const learners = readStrList(r, 'learners');
  return { meta: { index, term, conf: { voters, learners } }, data: r.bytesField('snapshot data') };
}
