/**
 * The simulated state machine: a map of registers, changed by write and compare-and-set
 * commands that travel in log entries. Each replica also keeps a digest chained over every
 * entry it applied, so two replicas at the same index can be compared in O(1), and the digest
 * travels inside snapshots.
 */
import type { Entry } from '../../src/raft/index.ts';

export type Command =
  | { op: 'write'; id: number; key: string; value: string }
  | { op: 'cas'; id: number; key: string; expect: string | null; value: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(c: Command): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

export function decodeCommand(data: Uint8Array): Command {
  return JSON.parse(decoder.decode(data)) as Command;
}

/** FNV-1a over bytes, continuing from `h`. */
export function fnv(h: number, bytes: Uint8Array): number {
  let x = h >>> 0;
  for (let i = 0; i < bytes.length; i++) x = Math.imul(x ^ bytes[i], 0x01000193) >>> 0;
  return x;
}

export function mixInt(h: number, n: number): number {
  let x = Math.imul(h ^ (n & 0xffff), 0x01000193) >>> 0;
  x = Math.imul(x ^ (n >>> 16), 0x01000193) >>> 0;
  return x;
}

export const GENESIS_DIGEST = 0x811c9dc5;

/** The digest after applying `e` on top of `digest`. */
export function chainDigest(digest: number, e: Entry): number {
  return fnv(mixInt(mixInt(mixInt(digest, e.index), e.term), e.type), e.data);
}

interface SnapshotImage {
  index: number;
  digest: number;
  values: [string, string][];
}

export class Registers {
  values = new Map<string, string>();
  /** Index of the last entry applied (or restored from a snapshot). */
  applied = 0;
  digest = GENESIS_DIGEST;

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  /** Applies one committed entry; returns the command's result (whether a CAS swapped). */
  apply(e: Entry, command: Command | undefined): boolean {
    this.applied = e.index;
    this.digest = chainDigest(this.digest, e);
    if (!command) return false;
    if (command.op === 'write') {
      this.values.set(command.key, command.value);
      return true;
    }
    if (this.get(command.key) !== command.expect) return false;
    this.values.set(command.key, command.value);
    return true;
  }

  snapshot(): Uint8Array {
    const image: SnapshotImage = { index: this.applied, digest: this.digest, values: [...this.values] };
    return encoder.encode(JSON.stringify(image));
  }

  static restore(data: Uint8Array): Registers {
    const image = JSON.parse(decoder.decode(data)) as SnapshotImage;
    const r = new Registers();
    r.values = new Map(image.values);
    r.applied = image.index;
    r.digest = image.digest;
    return r;
  }
}
