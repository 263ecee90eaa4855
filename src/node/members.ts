/**
 * The address book: which host and ports each member announces. Raft itself only knows node
 * ids; addresses travel in ConfChange contexts and in snapshots so that every replica, and a
 * node restarted from its data directory, agrees on them.
 */
import type { PeerAddress } from './config.ts';

export type Member = PeerAddress;

export class InvalidMemberError extends Error {
  override name = 'InvalidMemberError';
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A member without a TLS port encodes as before TLS existed, so older nodes read it. */
export function encodeMember(m: Member): Uint8Array {
  const tls = m.tlsPort ? { tlsPort: m.tlsPort } : {};
  return enc.encode(JSON.stringify({ id: m.id, host: m.host, port: m.port, httpPort: m.httpPort, ...tls }));
}

export function decodeMember(b: Uint8Array | undefined): Member | undefined {
  if (!b || b.length === 0) return undefined;
  const v = JSON.parse(dec.decode(b)) as Partial<Member>;
  if (
    typeof v.id !== 'string' ||
    typeof v.host !== 'string' ||
    !Number.isInteger(v.port) ||
    !Number.isInteger(v.httpPort) ||
    (v.tlsPort !== undefined && !Number.isInteger(v.tlsPort))
  ) {
    throw new InvalidMemberError(`bad member record: ${dec.decode(b)}`);
  }
  return v as Member;
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

  restore(b: Uint8Array): void {
    const list = JSON.parse(dec.decode(b)) as Member[];
    this.byId.clear();
    for (const m of list) this.byId.set(m.id, m);
  }
}

/**
 * The member's peer route. Whether members serve HTTPS is not in their record: a cluster is
 * configured alike (peer TLS on every member or on none), so a node dials with its own scheme,
 * as etcd's --initial-cluster URLs carry one scheme for all. A member configured otherwise
 * fails the TLS handshake or the upgrade, which both ends log.
 */
export const raftUrl = (m: Member, secure = false) => `${secure ? 'wss' : 'ws'}://${m.host}:${m.httpPort}/raft/v1`;

/**
 * The RESP port to name `m` by to a client, as Redis Cluster does with tls-cluster: a client
 * on a TLS connection gets the TLS port, a plain one the plain port, each falling back to the
 * other when the member serves only one (a client must not be sent to a port that is off).
 */
export function respPort(m: Member, tls: boolean): number {
  return tls ? m.tlsPort || m.port : m.port || m.tlsPort || 0;
}
