/** Test helpers: a store driven through the real codec, and readable result values. */
import { Buffer } from 'node:buffer';
import { decodeEntry, encodeEntry } from '../../src/kv/codec.ts';
import type { KvOp, WatchedKey } from '../../src/kv/ops.ts';
import type { KvResult } from '../../src/kv/results.ts';
import { KvStore, type KvStoreOptions } from '../../src/kv/store.ts';

/** Bytes of a latin1 string (so '\xff' is one byte). */
export function b(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

export type Shown =
  | string
  | number
  | bigint
  | null
  | Shown[]
  | { err: string }
  | { status: string }
  | { publish: [string, string] }
  | { settings: string[] }
  | { moved: number }
  | { split: number[] }
  | 'ABORTED';

/** A KvResult as a plain value: OK -> 'OK', nil -> null, bulk -> latin1 string, ... */
export function show(r: KvResult): Shown {
  switch (r.type) {
    case 'ok':
      return 'OK';
    case 'nil':
      return null;
    case 'int':
      return r.value;
    case 'bulk':
      return Buffer.from(r.value).toString('latin1');
    case 'status':
      return { status: r.value };
    case 'array':
      return r.value.map(show);
    case 'error':
      return { err: r.message };
    case 'aborted':
      return 'ABORTED';
    case 'publish':
      return { publish: [Buffer.from(r.channel).toString('latin1'), Buffer.from(r.message).toString('latin1')] };
    case 'settings':
      return { settings: r.ignored.map((i) => `${i.name}: ${i.why}`) };
    case 'moved':
      return { moved: r.slot };
    case 'split':
      return { split: [r.group, r.slots[0], r.slots[1], r.index] };
  }
}

/** A store plus a log: every entry goes through encodeEntry/decodeEntry like in production. */
export class Harness {
  readonly store: KvStore;
  index = 0;
  /** The leader's clock for the next entry. */
  ts = 1_700_000_000_000;

  constructor(options?: KvStoreOptions) {
    this.store = new KvStore(options);
  }

  exec(ops: KvOp[], watch?: WatchedKey[]): Shown[] {
    const data = encodeEntry(watch ? { ts: this.ts, ops, watch } : { ts: this.ts, ops });
    return this.store.apply(decodeEntry(data), ++this.index).map(show);
  }

  run(op: KvOp): Shown {
    return this.exec([op])[0];
  }

  set(key: string, value: string, opts: Omit<Extract<KvOp, { type: 'set' }>, 'type' | 'key' | 'value'> = {}): Shown {
    return this.run({ type: 'set', key: b(key), value: b(value), ...opts });
  }

  get(key: string): string | null {
    const v = this.store.get(b(key), this.ts);
    return v === null ? null : v.toString('latin1');
  }
}

/** Collects a snapshot's chunks into one buffer. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The same seeded PRNG the store uses, for tests whose data must replay. */
export { mulberry32 as rng } from '../../src/kv/prng.ts';
