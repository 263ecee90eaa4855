import { describe, expect, it } from 'vitest';
import { EntryType, MessageType } from '../../src/raft/types.ts';
import { CodecError, CodecErrorReason } from '../../src/transport/bytes.ts';
import {
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeMessage,
  encodeSnapBegin,
  encodeSnapChunk,
  FrameKind,
  MAX_LOG_NUMBER,
  messageSize,
  openFrame,
  PROTOCOL_VERSION,
  readSnapBegin,
  readSnapChunk,
} from '../../src/transport/codec.ts';
import {
  acceptClient,
  CloseCode,
  clientProof,
  decodeClientHello,
  decodeServerHello,
  decodeWelcome,
  encodeClientHello,
  encodeServerHello,
  encodeWelcome,
  HandshakeError,
  newNonce,
  verifyServer,
} from '../../src/transport/handshake.ts';
import { coalescible, encodeHeartbeats, heartbeatSize, readHeartbeats } from '../../src/transport/heartbeats.ts';
import { everyWireMessage, idleHeartbeats, message, plain, prng } from './fixtures.ts';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CodecError) return e.reason;
    throw e;
  }
  return 'none';
}

describe('message codec', () => {
  it('round-trips every wire message type with all fields', () => {
    for (const m of everyWireMessage('n1', 'n2')) {
      const bytes = encodeMessage(m);
      // Header, the group (1 byte for group 1), the body.
      expect(bytes.length).toBe(2 + 1 + messageSize(m));
      expect(plain(decodeMessage(bytes))).toEqual(plain(m));
    }
  });

  it('round-trips non-ASCII node ids and the largest log numbers (2^52)', () => {
    const m = message(MessageType.App, 'nœud-1', '节点2', {
      term: MAX_LOG_NUMBER,
      index: 2 ** 31,
      logTerm: 2 ** 32 - 1,
      commit: 2 ** 52 - 2,
      rejectHint: 127,
      entries: [{ term: 2 ** 35, index: 2 ** 45 + 3, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) }],
    });
    expect(plain(decodeMessage(encodeMessage(m)))).toEqual(plain(m));
  });

  // The fuzzer's find: a member sent term 2^53 - 1, the node campaigned at 2^53 and storage
  // refused the unsafe term, stopping the node. Such numbers now cost the sender its link.
  it('refuses terms and indexes above 2^52 as malformed, in every field that carries one', () => {
    const big = Number.MAX_SAFE_INTEGER;
    const cases = [
      { term: big },
      { logTerm: big },
      { index: big },
      { commit: big },
      { rejectHint: big },
      { entries: [{ term: big, index: 1, type: EntryType.Normal, data: new Uint8Array() }] },
      { entries: [{ term: 1, index: MAX_LOG_NUMBER + 1, type: EntryType.Normal, data: new Uint8Array() }] },
    ];
    for (const fields of cases) {
      const bytes = encodeMessage(message(MessageType.App, 'a', 'b', fields));
      expect(
        reasonOf(() => decodeMessage(bytes)),
        JSON.stringify(Object.keys(fields)),
      ).toBe(CodecErrorReason.Malformed);
    }
  });

  it('refuses to encode local message types and invalid numbers', () => {
    for (const type of [MessageType.Hup, MessageType.Beat, MessageType.Unreachable, MessageType.SnapStatus, MessageType.CheckQuorum]) {
      expect(reasonOf(() => encodeMessage(message(type, 'a', 'b')))).toBe(CodecErrorReason.BadType);
    }
    expect(reasonOf(() => encodeMessage(message(MessageType.App, 'a', 'b', { term: -1 })))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => encodeMessage(message(MessageType.App, 'a', 'b', { index: 1.5 })))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => encodeMessage(message(MessageType.App, 'a', 'b', { commit: 2 ** 53 })))).toBe(CodecErrorReason.Malformed);
  });

  it('decodes entry data, context and snapshot data as views into the frame (zero-copy)', () => {
    const msgs = everyWireMessage('n1', 'n2');
    const frame = encodeBatch(msgs, msgs.map(messageSize));
    const out = decodeBatch(frame);
    const app = out.find((m) => m.type === MessageType.App)!;
    const snap = out.find((m) => m.type === MessageType.Snap)!;
    const hb = out.find((m) => m.type === MessageType.Heartbeat)!;
    for (const view of [app.entries[1].data, snap.snapshot!.data, hb.context!]) {
      expect(view.buffer).toBe(frame.buffer);
    }
    // Writing through the view changes the frame: it really is the same memory.
    app.entries[1].data[0] ^= 0xff;
    expect(decodeBatch(frame).find((m) => m.type === MessageType.App)!.entries[1].data[0]).toBe(app.entries[1].data[0]);
  });

  it('names the failure: version, truncated, bad type, malformed', () => {
    const good = encodeMessage(everyWireMessage('n1', 'n2')[1]);
    const wrongVersion = Buffer.from(good);
    wrongVersion[0] = PROTOCOL_VERSION + 1;
    expect(reasonOf(() => decodeMessage(wrongVersion))).toBe(CodecErrorReason.Version);
    expect(reasonOf(() => decodeMessage(good.subarray(0, good.length - 1)))).toBe(CodecErrorReason.Truncated);
    const badKind = Buffer.from(good);
    badKind[1] = 99;
    expect(reasonOf(() => decodeMessage(badKind))).toBe(CodecErrorReason.BadType);
    // Byte 2 is the group (1); the message body starts at byte 3.
    const badType = Buffer.from(good);
    badType[3] = 200;
    expect(reasonOf(() => decodeMessage(badType))).toBe(CodecErrorReason.BadType);
    const badFlags = Buffer.from(good);
    badFlags[4] = 0x80;
    expect(reasonOf(() => decodeMessage(badFlags))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => decodeMessage(Buffer.concat([good, Buffer.from([0])])))).toBe(CodecErrorReason.Malformed);
    expect(reasonOf(() => decodeMessage(new Uint8Array(0)))).toBe(CodecErrorReason.Truncated);
  });

  it('rejects every strict prefix of a valid frame with CodecError', () => {
    const msgs = everyWireMessage('n1', 'n2');
    const frame = encodeBatch(msgs, msgs.map(messageSize));
    for (let n = 0; n < frame.length; n++) {
      expect(() => decodeBatch(frame.subarray(0, n))).toThrow(CodecError);
    }
  });

  it('refuses counts larger than the bytes that could hold them, before allocating', () => {
    // A batch announcing 2^40 messages in a 10-byte frame.
    const w = Buffer.from([PROTOCOL_VERSION, FrameKind.Batch, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0]);
    expect(reasonOf(() => decodeBatch(w))).toBe(CodecErrorReason.Truncated);
  });

  it('encodes snapshot transfer frames', () => {
    const snap = everyWireMessage('n1', 'n2')[7];
    const begin = openFrame(encodeSnapBegin(7, snap));
    expect(begin.kind).toBe(FrameKind.SnapBegin);
    const b = readSnapBegin(begin.body);
    expect(b.transferId).toBe(7);
    expect(b.totalBytes).toBe(snap.snapshot!.data.length);
    expect(b.message.snapshot!.meta).toEqual(snap.snapshot!.meta);
    expect(b.message.snapshot!.data.length).toBe(0);
    const chunk = openFrame(encodeSnapChunk(7, 4096, new Uint8Array([9, 8, 7])));
    expect(chunk.kind).toBe(FrameKind.SnapChunk);
    const c = readSnapChunk(chunk.body);
    expect([c.transferId, c.offset, Array.from(c.data)]).toEqual([7, 4096, [9, 8, 7]]);
    // A SnapBegin whose message is not a data-less Snap is malformed.
    expect(() => encodeSnapBegin(1, message(MessageType.App, 'a', 'b'))).toThrow(CodecError);
  });
});

describe('codec fuzz', () => {
  const valid = (() => {
    const msgs = everyWireMessage('n1', 'n2');
    const beats = idleHeartbeats('n1', 'n2', [1, 2, 300, 2 ** 32 - 1]);
    return [
      ...msgs.map((m, i) => encodeMessage(m, i * 37)),
      encodeBatch(msgs, msgs.map(messageSize)),
      encodeBatch(
        msgs,
        msgs.map(messageSize),
        msgs.map((_, i) => i * 1000),
      ),
      encodeSnapBegin(3, msgs[7], 4000),
      encodeSnapChunk(3, 0, new Uint8Array(40)),
      encodeHeartbeats(
        beats.groups,
        beats.messages,
        beats.messages.map((m, i) => heartbeatSize(beats.groups[i], m)),
      ),
    ];
  })();

  /** Decodes `bytes` the way an inbound connection would. */
  function decodeAny(bytes: Uint8Array): void {
    const { kind, body } = openFrame(bytes);
    if (kind === FrameKind.Message) decodeMessage(bytes);
    else if (kind === FrameKind.Batch) decodeBatch(bytes);
    else if (kind === FrameKind.SnapBegin) readSnapBegin(body);
    else if (kind === FrameKind.SnapChunk) readSnapChunk(body);
    else if (kind === FrameKind.Heartbeats) {
      // Expanded heartbeats must be messages the runtime accepts: re-encoding them cannot fail.
      for (const m of readHeartbeats(body, 'n1', 'n2').messages) {
        if (!coalescible(m)) throw new Error('expanded a heartbeat the compact form cannot hold');
        messageSize(m);
      }
    }
  }

  function onlyCodecErrors(bytes: Uint8Array): boolean {
    try {
      decodeAny(bytes);
      return true;
    } catch (e) {
      if (e instanceof CodecError) return false;
      throw new Error(`non-CodecError ${String(e)} for ${Buffer.from(bytes).toString('hex')}`);
    }
  }

  it('random bytes only ever raise CodecError (seeded)', () => {
    const rnd = prng(0xc0ffee);
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(rnd() * 64);
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) b[j] = Math.floor(rnd() * 256);
      // Give most inputs a valid header so the fuzzing reaches the body decoders.
      if (n >= 2 && rnd() < 0.8) {
        b[0] = PROTOCOL_VERSION;
        b[1] = [16, 17, 18, 19, 21][Math.floor(rnd() * 5)];
      }
      onlyCodecErrors(b);
    }
  });

  it('mutated valid frames only ever raise CodecError or decode (seeded)', () => {
    const rnd = prng(42);
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      const src = valid[Math.floor(rnd() * valid.length)];
      const b = Buffer.from(src);
      const edits = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < edits; k++) {
        const at = 2 + Math.floor(rnd() * (b.length - 2));
        const op = rnd();
        if (op < 0.6) b[at] = Math.floor(rnd() * 256);
        else if (op < 0.8) b[at] ^= 1 << Math.floor(rnd() * 8);
        else b[at] = 0xff;
      }
      const cut = rnd() < 0.2 ? Math.floor(rnd() * b.length) : b.length;
      if (onlyCodecErrors(b.subarray(0, cut))) decoded++;
    }
    // Some mutations land in payload bytes and still decode: the fuzzer reached deep fields.
    expect(decoded).toBeGreaterThan(100);
  });
});

describe('handshake frames', () => {
  const server = { clusterId: 'c1', nodeId: 'n1', secret: 's3cret', isAllowedPeer: (id: string) => id === 'n2' };

  function hello(opts: { clusterId?: string; nodeId?: string; secret?: string; nonce: Uint8Array }) {
    const clusterId = opts.clusterId ?? 'c1';
    const nodeId = opts.nodeId ?? 'n2';
    return encodeClientHello({
      clusterId,
      nodeId,
      nonce: newNonce(),
      proof: clientProof(opts.secret ?? 's3cret', opts.nonce, clusterId, nodeId),
    });
  }

  function refusal(fn: () => unknown): number {
    try {
      fn();
    } catch (e) {
      if (e instanceof HandshakeError) return e.code;
      throw e;
    }
    return 0;
  }

  it('accepts a correct client and lets it verify the server in turn', () => {
    const serverNonce = newNonce();
    const clientNonce = newNonce();
    const proof = clientProof('s3cret', serverNonce, 'c1', 'n2');
    const frame = encodeClientHello({ clusterId: 'c1', nodeId: 'n2', nonce: clientNonce, proof });
    const { peerId, welcome } = acceptClient(server, serverNonce, frame);
    expect(peerId).toBe('n2');
    expect(() => verifyServer({ clusterId: 'c1', secret: 's3cret' }, 'n1', clientNonce, welcome)).not.toThrow();
    // The welcome proves the secret for *this* client nonce only, and names the server.
    expect(refusal(() => verifyServer({ clusterId: 'c1', secret: 's3cret' }, 'n1', newNonce(), welcome))).toBe(CloseCode.AuthFailed);
    expect(refusal(() => verifyServer({ clusterId: 'c1', secret: 'other' }, 'n1', clientNonce, welcome))).toBe(CloseCode.AuthFailed);
    expect(refusal(() => verifyServer({ clusterId: 'c1', secret: 's3cret' }, 'n9', clientNonce, welcome))).toBe(CloseCode.UnknownPeer);
  });

  it('refuses each kind of bad client with its own close code', () => {
    const nonce = newNonce();
    expect(refusal(() => acceptClient(server, nonce, hello({ nonce, clusterId: 'c2' })))).toBe(CloseCode.ClusterMismatch);
    expect(refusal(() => acceptClient(server, nonce, hello({ nonce, nodeId: 'n7' })))).toBe(CloseCode.UnknownPeer);
    expect(refusal(() => acceptClient(server, nonce, hello({ nonce, nodeId: 'n1' })))).toBe(CloseCode.UnknownPeer);
    expect(refusal(() => acceptClient(server, nonce, hello({ nonce, secret: 'guess' })))).toBe(CloseCode.AuthFailed);
    // A proof over another nonce (a replay) fails too.
    expect(refusal(() => acceptClient(server, nonce, hello({ nonce: newNonce() })))).toBe(CloseCode.AuthFailed);
    const v2 = hello({ nonce });
    v2[0] = PROTOCOL_VERSION + 1;
    expect(refusal(() => acceptClient(server, nonce, v2))).toBe(CloseCode.VersionMismatch);
    expect(refusal(() => acceptClient(server, nonce, Buffer.from('GET / HTTP/1.1')))).toBe(CloseCode.VersionMismatch);
    expect(refusal(() => acceptClient(server, nonce, encodeServerHello(nonce)))).toBe(CloseCode.ProtocolError);
  });

  it('a client proof can never pass as a server proof (role separation)', () => {
    const nonce = newNonce();
    const asClient = clientProof('s3cret', nonce, 'c1', 'n1');
    const forged = encodeWelcome({ nodeId: 'n1', proof: asClient });
    expect(refusal(() => verifyServer({ clusterId: 'c1', secret: 's3cret' }, 'n1', nonce, forged))).toBe(CloseCode.AuthFailed);
  });

  it('handshake decoders raise only HandshakeError on random and mutated input (seeded)', () => {
    const rnd = prng(7);
    const nonce = newNonce();
    const samples = [encodeServerHello(nonce), hello({ nonce }), encodeWelcome({ nodeId: 'n1', proof: new Uint8Array(32) })];
    const decoders = [decodeServerHello, decodeClientHello, decodeWelcome];
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(samples[i % 3]);
      for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const cut = Math.floor(rnd() * (b.length + 1));
      for (const d of decoders) {
        try {
          d(b.subarray(0, cut));
        } catch (e) {
          if (!(e instanceof HandshakeError)) throw e;
        }
      }
    }
  });
});
