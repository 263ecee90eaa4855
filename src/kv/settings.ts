/**
 * Cluster-wide settings: the CONFIG parameters that are replicated state rather than one
 * node's options (requirepass, maxmemory, maxmemory-policy). CONFIG SET proposes them as one
 * CONFIG op, every replica applies it at the same index, and snapshots carry them, so a
 * failover, a restart, log compaction or a new member never silently drops a password.
 *
 * In the log and in snapshots each is a (name, value) pair of bytes in a canonical text form
 * (the front end turns "1gb" into "1073741824" before proposing; the password is UTF-8, as
 * AUTH and CONFIG GET treat it and as a --requirepass flag arrives). Apply parses it again, and a
 * pair this version does not understand (an unknown name or a bad value, say from another
 * version) is ignored and reported, never thrown: the other pairs of the op still apply.
 *
 * Only values set through the log live here; an absent field means "never set cluster-wide",
 * and the node's own flag applies (see node/settings.ts).
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { toBinary } from './bytes.ts';
import { type EvictionPolicy, isEvictionPolicy } from './eviction.ts';

export interface ClusterSettings {
  /** The `default` user's password (decoded from UTF-8). */
  requirepass?: string;
  /** Accounted bytes before eviction or -OOM; 0 = no limit. */
  maxmemory?: number;
  maxmemoryPolicy?: EvictionPolicy;
}

/** The cluster-wide CONFIG parameters, by their Redis names. */
type ClusterSettingName = 'requirepass' | 'maxmemory' | 'maxmemory-policy';

/** A pair apply did not take, and why; the value is never included (it may be a password). */
export interface IgnoredSetting {
  name: string;
  why: string;
}

/** maxmemory's canonical form: a decimal integer below 2^64 (what memtoull accepts). */
const MAXMEMORY = /^(0|[1-9]\d{0,19})$/;

/**
 * Merges CONFIG op pairs into `into`, in order (a later pair for the same name wins). Returns
 * the pairs it ignored. Deterministic: depends on the bytes alone.
 */
export function mergeSettings(into: ClusterSettings, pairs: readonly [Uint8Array, Uint8Array][]): IgnoredSetting[] {
  const ignored: IgnoredSetting[] = [];
  for (const [n, v] of pairs) {
    const name = toBinary(n);
    const why = mergeOne(into, name, v);
    // Bounded, and printable only: the name is whatever bytes the entry carried.
    if (why !== null) ignored.push({ name: name.slice(0, 64).replace(/[^\x20-\x7e]/g, '?'), why });
  }
  return ignored;
}

function mergeOne(into: ClusterSettings, name: string, bytes: Uint8Array): string | null {
  if (name === 'requirepass') {
    // Decoded lossily, it would lock every client out: AUTH compares the UTF-8 bytes.
    if (!isUtf8(bytes)) return 'not valid UTF-8';
    into.requirepass = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    return null;
  }
  const value = toBinary(bytes);
  switch (name) {
    case 'maxmemory': {
      if (!MAXMEMORY.test(value) || BigInt(value) >= 2n ** 64n) return 'not a byte count';
      // Beyond 2^53 a number is no longer exact, and its text would not parse back the same.
      into.maxmemory = Math.min(Number(value), Number.MAX_SAFE_INTEGER);
      return null;
    }
    case 'maxmemory-policy':
      if (!isEvictionPolicy(value)) return 'unknown eviction policy';
      into.maxmemoryPolicy = value;
      return null;
    default:
      return 'unknown cluster-wide setting';
  }
}

/** The settings as canonical pairs in a fixed order (snapshots are byte-identical on replicas). */
export function settingPairs(s: Readonly<ClusterSettings>): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  const add = (name: ClusterSettingName, value: string | number | undefined) => {
    if (value !== undefined) out.push([Buffer.from(name, 'latin1'), Buffer.from(String(value), 'utf8')]);
  };
  add('requirepass', s.requirepass);
  add('maxmemory', s.maxmemory);
  add('maxmemory-policy', s.maxmemoryPolicy);
  return out;
}
