/**
 * The follower proxy's messages, carried as the body of the transport's Forward frames over
 * the authenticated peer links (transport/codec.ts). Two kinds:
 *
 *   request  1 · id · resp u8 · flags u8 (1: watch dirty) · watches (key bytes · version)* ·
 *            commands (argc · arg bytes*)*
 *   reply    2 · id · index · status u8 (0: reply bytes follow, 1: not run here) · [bytes]
 *
 * A request is one unit of a client connection's commands that the leader runs in order on one
 * connection of its own (a pipeline, or MULTI ... EXEC with the WATCHed versions). Each command
 * gets its own reply message, encoded by the leader in the client's protocol version, so no
 * reply frame is larger than one reply. Numbers are varints; a WATCH version may be negative
 * (a missing key's, kv/keyspace.ts) and travels zigzag-encoded.
 */
import { bytesSize, CodecError, CodecErrorReason, Reader, varintSize, Writer } from '../../transport/bytes.ts';
import type { RespVersion } from '../encoder.ts';

const Op = { Request: 1, Reply: 2 } as const;
const FLAG_WATCH_DIRTY = 1;

/** What a reply message says about its command. */
export const ForwardStatus = {
  /** The command ran; the bytes are its reply. */
  Reply: 0,
  /** The receiver is not the leader and ran nothing: safe to send it elsewhere. */
  NotRun: 1,
} as const;
export type ForwardStatus = (typeof ForwardStatus)[keyof typeof ForwardStatus];

export interface ForwardRequest {
  id: number;
  resp: RespVersion;
  /** A WATCHed key was touched before EXEC (the EXEC must answer a null array). */
  watchDirty: boolean;
  /** WATCHed keys (latin1 strings, as ClientConn keeps them) and their versions. */
  watches: [string, number][];
  commands: Buffer[][];
}

export interface ForwardReply {
  id: number;
  index: number;
  status: ForwardStatus;
  bytes: Buffer;
}

const zigzag = (v: number): number => (v >= 0 ? v * 2 : -v * 2 - 1);
const unzigzag = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

export function encodeRequest(r: ForwardRequest): Buffer {
  let n = 1 + varintSize(r.id) + 2 + varintSize(r.watches.length) + varintSize(r.commands.length);
  const keys = r.watches.map(([k]) => Buffer.from(k, 'latin1'));
  for (let i = 0; i < keys.length; i++) n += bytesSize(keys[i]) + varintSize(zigzag(r.watches[i][1]));
  for (const argv of r.commands) {
    n += varintSize(argv.length);
    for (const a of argv) n += bytesSize(a);
  }
  const w = new Writer(n);
  w.u8(Op.Request);
  w.varint(r.id);
  w.u8(r.resp);
  w.u8(r.watchDirty ? FLAG_WATCH_DIRTY : 0);
  w.varint(keys.length);
  for (let i = 0; i < keys.length; i++) {
    w.bytes(keys[i]);
    w.varint(zigzag(r.watches[i][1]));
  }
  w.varint(r.commands.length);
  for (const argv of r.commands) {
    w.varint(argv.length);
    for (const a of argv) w.bytes(a);
  }
  return w.finish();
}

export function encodeReply(r: ForwardReply): Buffer {
  const w = new Writer(1 + varintSize(r.id) + varintSize(r.index) + 1 + r.bytes.length);
  w.u8(Op.Reply);
  w.varint(r.id);
  w.varint(r.index);
  w.u8(r.status);
  w.raw(r.bytes);
  return w.finish();
}

/** A Forward body from a peer: a request or a reply; CodecError if malformed. */
export function decodeForward(body: Uint8Array): { request: ForwardRequest } | { reply: ForwardReply } {
  const r = new Reader(body);
  const op = r.u8('forward op');
  const id = r.varint('forward id');
  if (op === Op.Reply) {
    const index = r.varint('reply index');
    const status = r.u8('reply status');
    if (status !== ForwardStatus.Reply && status !== ForwardStatus.NotRun) {
      throw new CodecError(CodecErrorReason.Malformed, `forward reply status ${status}`);
    }
    return { reply: { id, index, status, bytes: Buffer.from(r.view(r.remaining, 'reply bytes')) } };
  }
  if (op !== Op.Request) throw new CodecError(CodecErrorReason.BadType, `forward op ${op}`);
  const resp = r.u8('resp version');
  if (resp !== 2 && resp !== 3) throw new CodecError(CodecErrorReason.Malformed, `resp version ${resp}`);
  const flags = r.u8('flags');
  const watches: [string, number][] = [];
  const nw = r.count(2, 'watch count');
  for (let i = 0; i < nw; i++) {
    const key = Buffer.from(r.bytesField('watched key')).toString('latin1');
    watches.push([key, unzigzag(r.varint('watched version'))]);
  }
  const commands: Buffer[][] = [];
  const nc = r.count(2, 'command count');
  for (let i = 0; i < nc; i++) {
    const argc = r.count(1, 'argument count');
    if (argc === 0) throw new CodecError(CodecErrorReason.Malformed, 'a command without arguments');
    const argv: Buffer[] = new Array(argc);
    for (let j = 0; j < argc; j++) {
      const v = r.bytesField('argument');
      argv[j] = Buffer.from(v.buffer, v.byteOffset, v.length);
    }
    commands.push(argv);
  }
  r.done('forward request');
  return { request: { id, resp, watchDirty: (flags & FLAG_WATCH_DIRTY) !== 0, watches, commands } };
}
