import { EntryType, type Message, MessageType, type NodeId, RaftInvariantError } from './types.ts';

const MESSAGE_TYPES: ReadonlySet<string> = new Set(Object.values(MessageType));
const ENTRY_TYPES: ReadonlySet<number> = new Set(Object.values(EntryType));

export type MessageInit = Partial<Message> & Pick<Message, 'type' | 'to'>;

const VOTE_TYPES: ReadonlySet<Message['type']> = new Set([MessageType.Vote, MessageType.VoteResp, MessageType.PreVote, MessageType.PreVoteResp]);

/**
 * An outgoing message with defaults filled in. Vote messages carry an explicit term (a
 * pre-vote's is in the future, a grant echoes the candidate's); forwarded reads keep term 0,
 * being valid in any term; everything else carries the sender's term.
 */
export function newMessage(init: MessageInit, from: NodeId, term: number): Message {
  const m: Message = {
    from,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...init,
  };
  if (VOTE_TYPES.has(m.type)) {
    if (m.term === 0) throw new RaftInvariantError(`${m.type} needs an explicit term`);
  } else if (m.type !== MessageType.ReadIndex) {
    m.term = term;
  }
  return m;
}

/** A message the node addresses to itself (or that its runtime reports), with term 0. */
export function local(type: Message['type'], from: NodeId, extra: Partial<Message> = {}): Message {
  return {
    type,
    from,
    to: from,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...extra,
  };
}

/** Why a message from the network is malformed, or undefined if it is well formed. */
export function validateNetworkMessage(m: Message): string | undefined {
  if (typeof m !== 'object' || m === null) return 'not an object';
  if (!MESSAGE_TYPES.has(m.type)) return `unknown type ${String(m.type)}`;
  if (typeof m.from !== 'string' || typeof m.to !== 'string') return 'from/to must be node ids';
  for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    if (!Number.isSafeInteger(m[field]) || m[field] < 0) return `${field} must be a non-negative integer`;
  }
  if (typeof m.reject !== 'boolean') return 'reject must be a boolean';
  if (!Array.isArray(m.entries)) return 'entries must be an array';
  for (const e of m.entries) {
    if (!Number.isSafeInteger(e?.term) || !Number.isSafeInteger(e?.index) || !ENTRY_TYPES.has(e.type) || !(e.data instanceof Uint8Array)) {
      return 'malformed entry';
    }
  }
  if (m.context !== undefined && !(m.context instanceof Uint8Array)) return 'context must be bytes';
  if (m.type === MessageType.Snap) {
    const meta = m.snapshot?.meta;
    if (!meta || !Number.isSafeInteger(meta.index) || !Number.isSafeInteger(meta.term)) return 'malformed snapshot';
    if (!Array.isArray(meta.conf?.voters) || !Array.isArray(meta.conf?.learners)) return 'malformed snapshot conf';
    if (!(m.snapshot?.data instanceof Uint8Array)) return 'malformed snapshot data';
  }
  return undefined;
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}
