/**
 * Codec benchmark: the hand-written wire codec against msgpackr, for a typical App message
 * with 1, 16 and 256 entries of 16-byte values.
 *
 *   npx tsx test/transport/codec.bench.ts
 *
 * msgpackr is measured in its two fastest configurations (records with structures shared by
 * both ends, and plain maps), each followed by the validation a decoder of untrusted bytes
 * needs anyway (types and ranges of every field), so that both sides do the same job.
 */
import { Packr } from 'msgpackr';
import { type Entry, EntryType, type Message, MessageType } from '../../src/raft/types.ts';
import { CodecError, CodecErrorReason } from '../../src/transport/bytes.ts';
import { decodeMessage, encodeMessage } from '../../src/transport/codec.ts';

function appMessage(entryCount: number): Message {
  const entries: Entry[] = [];
  for (let i = 0; i < entryCount; i++) {
    const data = new Uint8Array(16);
    for (let j = 0; j < 16; j++) data[j] = (i * 31 + j) & 0xff;
    entries.push({ term: 7, index: 1_234_568 + i, type: EntryType.Normal, data });
  }
  return {
    type: MessageType.App,
    from: 'n1',
    to: 'n2',
    term: 7,
    logTerm: 7,
    index: 1_234_567,
    entries,
    commit: 1_234_560,
    reject: false,
    rejectHint: 0,
  };
}

const bad = (what: string) => new CodecError(CodecErrorReason.Malformed, what);
const uint = (v: unknown, f: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(f);
  return v;
};
const str = (v: unknown, f: string): string => {
  if (typeof v !== 'string') throw bad(f);
  return v;
};
const bin = (v: unknown, f: string): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw bad(f);
  return v;
};
const types = new Set<string>(Object.values(MessageType));

/** The validation any decoder of untrusted msgpack needs before handing the object to Raft. */
function validate(o: unknown): Message {
  if (typeof o !== 'object' || o === null) throw bad('not an object');
  const r = o as Record<string, unknown>;
  if (typeof r.type !== 'string' || !types.has(r.type)) throw bad('type');
  if (!Array.isArray(r.entries)) throw bad('entries');
  const entries: Entry[] = r.entries.map((e: Record<string, unknown>) => {
    if (typeof e !== 'object' || e === null) throw bad('entry');
    if (e.type !== 0 && e.type !== 1) throw bad('entry type');
    return { term: uint(e.term, 'et'), index: uint(e.index, 'ei'), type: e.type, data: bin(e.data, 'ed') };
  });
  if (typeof r.reject !== 'boolean') throw bad('reject');
  return {
    type: r.type as MessageType,
    from: str(r.from, 'from'),
    to: str(r.to, 'to'),
    term: uint(r.term, 'term'),
    logTerm: uint(r.logTerm, 'logTerm'),
    index: uint(r.index, 'index'),
    entries,
    commit: uint(r.commit, 'commit'),
    reject: r.reject,
    rejectHint: uint(r.rejectHint, 'rejectHint'),
  };
}

function unpackSafe(p: Packr, b: Uint8Array): Message {
  try {
    return validate(p.unpack(b));
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError(CodecErrorReason.Malformed, String(e));
  }
}

interface Codec {
  name: string;
  encode(m: Message): Uint8Array;
  decode(b: Uint8Array): Message;
}

const shared: object[] = [];
const recordsTx = new Packr({ structures: shared });
const recordsRx = new Packr({ structures: shared });
const maps = new Packr({ useRecords: false });

const codecs: Codec[] = [
  { name: 'hand-written', encode: encodeMessage, decode: decodeMessage },
  {
    name: 'msgpackr records',
    encode: (m) => recordsTx.pack(m),
    decode: (b) => unpackSafe(recordsRx, b),
  },
  { name: 'msgpackr maps', encode: (m) => maps.pack(m), decode: (b) => unpackSafe(maps, b) },
];

function opsPerSec(fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn();
  let ops = 0;
  const start = process.hrtime.bigint();
  const budget = 400_000_000n; // ns
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 200; i++) fn();
    ops += 200;
    elapsed = process.hrtime.bigint() - start;
  }
  return Math.round((ops * 1e9) / Number(elapsed));
}

let sink = 0;
console.log('codec               entries  bytes  encode ops/s  decode ops/s');
for (const count of [1, 16, 256]) {
  const m = appMessage(count);
  for (const c of codecs) {
    const bytes = c.encode(m);
    const back = c.decode(bytes);
    if (back.entries.length !== count || back.index !== m.index) throw new Error(`${c.name} round trip`);
    const enc = opsPerSec(() => {
      sink += c.encode(m).length;
    });
    const dec = opsPerSec(() => {
      sink += c.decode(bytes).entries.length;
    });
    console.log(
      `${c.name.padEnd(20)}${String(count).padStart(7)}${String(bytes.length).padStart(7)}` +
        `${enc.toLocaleString('en').padStart(14)}${dec.toLocaleString('en').padStart(14)}`,
    );
  }
}
if (sink === 0) console.log('');
