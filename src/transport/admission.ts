/**
 * Admission of inbound peer connections before they authenticate: how many may be
 * authenticating at once (in total and from one address), and the bounded memory of unknown
 * node ids already warned about. An unauthenticated party can make this node hold only
 * `total` connections of at most `preAuthPayload`-byte frames, and its refusals cannot grow a
 * log set without bound. Kept apart from transport.ts because it is the one piece of the
 * transport that reasons about strangers rather than members.
 */
import type { Logger } from 'pino';
import type { NodeId } from '../raft/types.ts';

/** Distinct unknown node ids warned about before further ones go to debug. */
const MAX_UNKNOWN_LOGGED = 256;

export interface AdmissionLimits {
  /** Largest frame before the handshake completed (ws's maxPayload on the peer route). */
  preAuthPayload: number;
  /** Connections still authenticating, beyond which new ones are refused. */
  total: number;
  /** The same, per remote address. */
  perAddress: number;
}

/** What admission needs to know of an inbound connection. */
export interface Admittee {
  readonly peerId: NodeId | undefined;
  readonly remote: string;
}

export class Admission {
  /** Node ids already refused as unknown peers at warn level (bounded: see firstUnknownPeer). */
  private readonly unknownLogged = new Set<string>();
  private unknownOverflowLogged = false;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly log: Logger,
  ) {}

  /** Why one more unauthenticated connection from `remote` is refused, given `inbound`; undefined if it is not. */
  refusal(inbound: Iterable<Admittee>, remote: string): string | undefined {
    let total = 0;
    let fromRemote = 0;
    for (const c of inbound) {
      if (c.peerId !== undefined) continue;
      total++;
      if (c.remote === remote) fromRemote++;
    }
    if (total >= this.limits.total) return `${total} peer connections are already authenticating`;
    if (fromRemote >= this.limits.perAddress) return `${fromRemote} peer connections from ${remote} are already authenticating`;
    return undefined;
  }

  /**
   * Warn about an unknown peer id once; the set is bounded so that a peer cycling through
   * random ids cannot grow it (past the bound, refusals are logged at debug only).
   */
  firstUnknownPeer(id: string): boolean {
    if (this.unknownLogged.has(id)) return false;
    if (this.unknownLogged.size >= MAX_UNKNOWN_LOGGED) {
      if (!this.unknownOverflowLogged) {
        this.unknownOverflowLogged = true;
        this.log.warn({ ids: MAX_UNKNOWN_LOGGED }, 'many unknown node ids refused; further ones are logged at debug');
      }
      return false;
    }
    this.unknownLogged.add(id);
    return true;
  }
}
