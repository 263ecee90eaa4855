/**
 * Peer inputs: frames of the peer codec (src/transport/codec.ts and handshake.ts) — ClientHello,
 * stray ServerHello and Welcome, Batches of Raft messages of every wire type with entries that
 * hold real KV commands and membership changes, chunked snapshot frames — then mutated.
 *
 * A session is one WebSocket connection to `/raft/v1`. An unauthenticated session sends its
 * frames where the handshake expects a ClientHello; an authenticated one first completes the
 * handshake with the cluster secret as a learner the run added (peer-target.ts), then sends
 * Raft traffic. The ClientHello's proof is computed at send time, over the server's nonce;
 * every other byte follows from the seed.
 */
import { encodeEntry } from '../../src/kv/codec.ts';
import type { KvOp } from '../../src/kv/ops.ts';
import { encodeMember } from '../../src/node/members.ts';
import { encodeConfChange } from '../../src/raft/conf-change.ts';
import { ConfChangeType, type Entry, EntryType, type Message, MessageType } from '../../src/raft/types.ts';
import {
  encodeBatch,
  encodeSnapBegin,
  encodeSnapChunk,
  FrameKind,
  HEADER_SIZE,
  MAX_LOG_NUMBER,
  messageSize,
  newFrame,
  PROTOCOL_VERSION,
  WIRE_TYPES,
} from '../../src/transport/codec.ts';
import { encodeClientHello, encodeServerHello, encodeWelcome, NONCE_SIZE, PROOF_SIZE } from '../../src/transport/handshake.ts';
import { hostValue } from './http.ts';
import { INTERESTING_NUMBERS, mutateBytes } from './mutate.ts';
import type { Rng } from './rng.ts';

export interface PeerFrame {
  data: Buffer;
  /** Sent as a text message (peer links speak binary only). */
  text: boolean;
  /** Sent in this many WebSocket fragments. */
  fragments: number;
}

export interface PeerSession {
  first: number;
  frames: number;
  /** Complete the handshake with the secret before sending `messages`. */
  authenticate: boolean;
  /** Send before the server's hello arrives. */
  early: boolean;
  messages: PeerFrame[];
  end: 'wait' | 'close' | 'terminate';
}

export interface PeerIdentity {
  clusterId: string;
  /** The node under test (`to` of every message). */
  nodeId: string;
  /** Who the fuzzer claims to be (`from`). */
  peerId: string;
}

/** The message types a peer may send, as the codec lists them (forwarded proposals left out). */
const PEER_TYPES = WIRE_TYPES.filter((t) => t !== MessageType.Prop);

/**
 * Raft numbers: small ones meet the node's real terms and indexes; the rest probe the limits,
 * up to the largest the codec accepts from a peer (MAX_LOG_NUMBER; byte mutations go past it).
 */
function num(rng: Rng): number {
  if (rng.chance(0.85)) return rng.int(0, 20);
  return rng.pick([0, 1, 2 ** 31 - 1, 2 ** 32, MAX_LOG_NUMBER, MAX_LOG_NUMBER - 1, rng.int(0, 1e6)]);
}

/** a + b, held at the largest number the codec accepts. */
function add(a: number, b: number): number {
  return Math.min(MAX_LOG_NUMBER, a + b);
}

function bytes(rng: Rng, max: number): Buffer {
  return rng.bytes(rng.skewed(max));
}

function idFor(rng: Rng, id: PeerIdentity): string {
  return rng.chance(0.8) ? rng.pick([id.nodeId, id.peerId]) : rng.pick(['', 'n2', 'x'.repeat(1 + rng.skewed(300)), '\u0000', 'n1 ']);
}

function kvOp(rng: Rng): KvOp {
  const key = Buffer.from(`fz:${rng.int(0, 31)}`);
  const value = rng.chance(0.95) ? bytes(rng, 64) : Buffer.alloc(rng.skewed(1 << 20), 0x61);
  return rng.pick<() => KvOp>([
    () => ({ type: 'set', key, value }),
    () => ({ type: 'del', keys: [key] }),
    () => ({ type: 'incrby', key, delta: BigInt(rng.int(-1e6, 1e6)) }),
    () => ({ type: 'incrbyfloat', key, incr: rng.pick(INTERESTING_NUMBERS) }),
    () => ({ type: 'append', key, value }),
    () => ({ type: 'pexpireat', key, at: num(rng) }),
    () => ({ type: 'mset', pairs: [[key, value]] }),
    () => ({ type: 'flushall' }),
    () => ({ type: 'publish', channel: key, message: value }),
    () => ({ type: 'get', key }),
  ])();
}

function entry(rng: Rng, term: number, index: number, id: PeerIdentity): Entry {
  if (rng.chance(0.2)) {
    const node = rng.pick([id.nodeId, id.peerId, `fz${rng.int(0, 9)}`]);
    const context = rng.chance(0.7) ? encodeMember({ id: node, host: hostValue(rng), port: rng.int(0, 70_000), httpPort: rng.int(0, 70_000) }) : bytes(rng, 64);
    const type = rng.pick([ConfChangeType.AddLearner, ConfChangeType.AddVoter, ConfChangeType.RemoveNode]);
    return { term, index, type: EntryType.ConfChange, data: encodeConfChange({ type, node, context }) };
  }
  let data: Uint8Array;
  try {
    data = rng.chance(0.1) ? new Uint8Array(0) : encodeEntry({ ts: rng.int(0, 2e12), ops: Array.from({ length: 1 + rng.skewed(4) }, () => kvOp(rng)) });
  } catch {
    // An op the encoder refuses (an out-of-range time): raw bytes instead.
    data = bytes(rng, 64);
  }
  return { term, index, type: EntryType.Normal, data };
}

/** A Raft message of a valid shape for its type, from `peerId` to the node. */
export function raftMessage(rng: Rng, id: PeerIdentity): Message {
  const type = rng.pick(PEER_TYPES);
  const term = num(rng);
  const index = num(rng);
  const m: Message = {
    type,
    from: rng.chance(0.95) ? id.peerId : idFor(rng, id),
    to: rng.chance(0.95) ? id.nodeId : idFor(rng, id),
    term,
    logTerm: rng.chance(0.7) ? Math.max(0, term - rng.int(0, 1)) : num(rng),
    index,
    commit: rng.chance(0.5) ? add(index, rng.int(0, 3)) : num(rng),
    entries: [],
    reject: rng.chance(0.2),
    rejectHint: num(rng),
  };
  if (type === MessageType.App) {
    for (let i = rng.skewed(8); i > 0; i--) m.entries.push(entry(rng, term, add(index, m.entries.length + 1), id));
  }
  if (rng.chance(0.15)) m.context = rng.chance(0.5) ? Buffer.from('transfer') : bytes(rng, 64);
  if (type === MessageType.Snap) {
    m.snapshot = {
      meta: {
        index: num(rng),
        term: num(rng),
        conf: { voters: [id.nodeId, ...(rng.chance(0.3) ? [id.peerId] : [])], learners: rng.chance(0.5) ? [id.peerId] : [] },
      },
      data: bytes(rng, 4096),
    };
  }
  return m;
}

function batch(rng: Rng, id: PeerIdentity): Buffer {
  const messages = Array.from({ length: 1 + rng.skewed(16) }, () => raftMessage(rng, id));
  return encodeBatch(messages, messages.map(messageSize));
}

function snapFrames(rng: Rng, id: PeerIdentity): Buffer[] {
  const m = raftMessage(rng, id);
  m.type = MessageType.Snap;
  m.entries = [];
  const total = rng.chance(0.1) ? rng.pick([2 ** 31, 2 ** 40, 2 ** 53 - 1]) : rng.skewed(1 << 20);
  m.snapshot = { meta: { index: num(rng), term: num(rng), conf: { voters: [id.nodeId], learners: [] } }, data: Buffer.alloc(total > 1 << 20 ? 1 : total) };
  const transfer = num(rng);
  const out = [encodeSnapBegin(transfer, m)];
  // The size announced by the header is the data's; a claim beyond it is a mutation below.
  for (let off = 0, n = rng.skewed(8); n > 0 && off < total; n--) {
    const chunk = bytes(rng, 64 * 1024);
    out.push(encodeSnapChunk(rng.chance(0.9) ? transfer : num(rng), rng.chance(0.9) ? off : num(rng), chunk));
    off += chunk.length;
  }
  return out;
}

function clientHello(rng: Rng, id: PeerIdentity): Buffer {
  return encodeClientHello({
    clusterId: rng.chance(0.8) ? id.clusterId : bytes(rng, 32).toString('latin1'),
    nodeId: idFor(rng, id),
    nonce: rng.bytes(NONCE_SIZE),
    proof: rng.bytes(PROOF_SIZE),
  });
}

/** Frames a peer may send, valid in shape; the handshake's own kinds included. */
function validFrames(rng: Rng, id: PeerIdentity): Buffer[] {
  const r = rng.next();
  if (r < 0.5) return [batch(rng, id)];
  if (r < 0.6) return snapFrames(rng, id);
  if (r < 0.75) return [clientHello(rng, id)];
  if (r < 0.8) return [encodeServerHello(rng.bytes(NONCE_SIZE))];
  if (r < 0.85) return [encodeWelcome({ nodeId: idFor(rng, id), proof: rng.bytes(PROOF_SIZE) })];
  if (r < 0.9) {
    // A single-message frame (tools use it; links never send it).
    const w = newFrame(FrameKind.Message, 0);
    return [w.finish()];
  }
  // A header of any kind and version, and a body of anything.
  const head = Buffer.from([rng.chance(0.7) ? PROTOCOL_VERSION : rng.int(0, 255), rng.int(0, 255)]);
  return [Buffer.concat([head, bytes(rng, 256)])];
}

/** Frame-aware mutations: the header's version and kind, a declared length, a huge frame. */
function mutateFrame(rng: Rng, f: Buffer): Buffer {
  const r = rng.next();
  if (r < 0.1 && f.length >= HEADER_SIZE) {
    const out = Buffer.from(f);
    out[rng.int(0, 1)] = rng.int(0, 255);
    return out;
  }
  if (r < 0.2) {
    // A varint claiming a huge length or count, at a random place.
    const pos = rng.int(HEADER_SIZE, Math.max(HEADER_SIZE, f.length));
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, rng.chance(0.5) ? 0x0f : 0x7f]);
    return Buffer.concat([f.subarray(0, pos), huge, f.subarray(Math.min(f.length, pos + rng.int(0, 8)))]);
  }
  if (r < 0.3) {
    // Big frames: any size up to 32 MiB, or near the frame limit a node had (maxPayload 33 MiB).
    const size = rng.chance(0.5) ? 1 + rng.skewed(32 << 20) : rng.int(16 << 20, 33 << 20);
    return Buffer.concat([f, Buffer.alloc(size, 0x41)]);
  }
  return mutateBytes(rng, f);
}

/**
 * The session at `first`. Iterations before `authFrom` are unauthenticated sessions, the rest
 * authenticated ones (see peer-target.ts for why the two phases are apart).
 */
export function peerSession(rng: Rng, id: PeerIdentity, first: number, maxFrames: number, authFrom: number): PeerSession {
  const authenticate = first >= authFrom;
  if (!authenticate) maxFrames = Math.min(maxFrames, authFrom - first);
  const frames = Math.min(maxFrames, 1 + rng.skewed(authenticate ? 63 : 7));
  const mutationRate = rng.pick([0, 0.1, 0.3, 0.7, 1]);
  const messages: PeerFrame[] = [];
  while (messages.length < frames) {
    for (const f of validFrames(rng, id)) {
      if (messages.length >= frames) break;
      messages.push({
        data: rng.chance(mutationRate) ? mutateFrame(rng, f) : f,
        text: rng.chance(0.02),
        fragments: rng.chance(0.05) ? 2 + rng.skewed(8) : 1,
      });
    }
  }
  return {
    first,
    frames,
    authenticate,
    early: !authenticate && rng.chance(0.2),
    messages,
    end: rng.pick(['wait', 'wait', 'close', 'terminate'] as const),
  };
}
