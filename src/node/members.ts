/**
 * The address book: which host and ports each member announces. Raft itself only knows node
 * ids; addresses travel in ConfChange contexts and in snapshots so that every replica, and a
 * node restarted from its data directory, agrees on them.
 *
 * Every member record is checked with one validator (checkMember) wherever it comes in: before
 * the admin API proposes it, and again when a record is read back from the log or a snapshot,
 * since an entry written by an older version, or by hand, reaches every replica's apply. A
 * record that fails is refused there, never turned into a URL that would throw.
 */

import { hostPort, hostProblem, nodeIdProblem, portProblem } from './addresses.ts';
import type { PeerAddress } from './config.ts';

export type Member = PeerAddress;

/** A member record that cannot be used; `field` names the offending member field. */
export class InvalidMemberError extends Error {
  override name = 'InvalidMemberError';
  constructor(
    readonly field: keyof Member | 'record',
    readonly problem: string,
  ) {
    super(`member ${field} ${problem}`);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Far above any valid record (64-character id, 253-character host, two ports). */
const MAX_RECORD_BYTES = 1024;

/** Returns `v` as a Member if it is a usable one; throws InvalidMemberError naming the field. */
export function checkMember(v: unknown): Member {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidMemberError('record', 'must be an object');
  const m = v as Record<keyof Member, unknown>;
  const tls = m.tlsPort !== undefined && m.tlsPort !== 0;
  const problems: [keyof Member, string | undefined][] = [
    ['id', nodeIdProblem(m.id)],
    ['host', hostProblem(m.host)],
    // Port 0: a TLS-only member (no plain RESP), which then must have a TLS port.
    ['port', tls && m.port === 0 ? undefined : portProblem(m.port)],
    ['httpPort', portProblem(m.httpPort)],
    ['tlsPort', tls ? portProblem(m.tlsPort) : undefined],
  ];
  for (const [field, problem] of problems) {
    if (problem) throw new InvalidMemberError(field, problem);
  }
  const member: Member = { id: m.id as string, host: m.host as string, port: m.port as number, httpPort: m.httpPort as number };
  if (tls) member.tlsPort = m.tlsPort as number;
  return member;
}

/** A member without a TLS port encodes as before TLS existed, so older nodes read it. */
export function encodeMember(m: Member): Uint8Array {
  const tls = m.tlsPort ? { tlsPort: m.tlsPort } : {};
  return enc.encode(JSON.stringify({ id: m.id, host: m.host, port: m.port, httpPort: m.httpPort, ...tls }));
}

/** The member in a ConfChange context (undefined if there is none); throws InvalidMemberError. */
export function decodeMember(b: Uint8Array | undefined): Member | undefined {
  if (!b || b.length === 0) return undefined;
  if (b.length > MAX_RECORD_BYTES) throw new InvalidMemberError('record', `of ${b.length} bytes is too long`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(b));
  } catch {
    throw new InvalidMemberError('record', 'is not JSON');
  }
  return checkMember(v);
}

export class Members {
  private byId = new Map<string, Member>();

  constructor(initial: Member[] = []) {
    for (const m of initial) this.byId.set(m.id, m);
  }

  get(id: string): Member | undefined {
    return this.byId.get(id);
  }

  set(m: Member): void {
    this.byId.set(m.id, m);
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  all(): Member[] {
    return [...this.byId.values()];
  }

  encode(): Uint8Array {
    return enc.encode(JSON.stringify(this.all()));
  }

  /**
   * Replaces the book with a snapshot's. Unusable records are left out (the member then has no
   * known address) and returned as problems for the caller to log; an unreadable book leaves the
   * current one as it is.
   */
  restore(b: Uint8Array): string[] {
    let list: unknown;
    try {
      list = JSON.parse(dec.decode(b));
    } catch {
      return ['the address book is not JSON; kept the current one'];
    }
    if (!Array.isArray(list)) return ['the address book is not a list; kept the current one'];
    const problems: string[] = [];
    this.byId.clear();
    for (const v of list) {
      try {
        const m = checkMember(v);
        this.byId.set(m.id, m);
      } catch (err) {
        problems.push(`skipped a member record: ${(err as Error).message}`);
      }
    }
    return problems;
  }
}

/**
 * The member's peer route. Whether members serve HTTPS is not in their record: a cluster is
 * configured alike (peer TLS on every member or on none), so a node dials with its own scheme,
 * as etcd's --initial-cluster URLs carry one scheme for all. A member configured otherwise
 * fails the TLS handshake or the upgrade, which both ends log.
 */
export const raftUrl = (m: Member, secure = false) => `${secure ? 'wss' : 'ws'}://${hostPort(m.host, m.httpPort)}/raft/v1`;

/**
 * The RESP port to name `m` by to a client, as Redis Cluster does with tls-cluster: a client
 * on a TLS connection gets the TLS port, a plain one the plain port, each falling back to the
 * other when the member serves only one (a client must not be sent to a port that is off).
 */
export function respPort(m: Member, tls: boolean): number {
  return tls ? m.tlsPort || m.port : m.port || m.tlsPort || 0;
}
