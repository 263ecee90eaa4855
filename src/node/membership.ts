/**
 * Cluster membership on one node: the configuration its core has applied (voters and learners),
 * the changes to it (add as a learner, promote once caught up, remove) and the peer links that
 * follow from it and from the address book (members.ts).
 *
 * Kept out of RaftNode behind `MembershipHost` so that it sees only the few things it uses: the
 * core's conf-change calls, the callers waiting on the log, the transport's peer list, and when
 * each peer was last heard from (for the strict reconfiguration check, reconfig-check.ts).
 */
import type { RawNode } from '../raft/index.ts';
import { decodeConfChange } from '../raft/index.ts';
import { type ConfChange, ConfChangeType, type ConfState, type Entry, NONE } from '../raft/types.ts';
import type { Peer } from '../transport/index.ts';
import type { NodeConfig } from './config.ts';
import {
  ConfChangePendingError,
  LearnerBehindError,
  MemberExistsError,
  NodeClosedError,
  NotLeaderError,
  NotLearnerError,
  UnknownMemberError,
  UnsafeReconfigError,
} from './errors.ts';
import type { Logger } from './logger.ts';
import { checkMember, decodeMember, encodeMember, InvalidMemberError, type Member, type Members, raftUrl } from './members.ts';
import { type ReconfigVerb, unsafeReconfig } from './reconfig-check.ts';
import type { Removal } from './removal.ts';
import { secureHttp } from './tls-config.ts';
import type { ProposalWaiters } from './waiters.ts';

/** The core's side of membership: proposing changes and applying committed ones. */
export type MembershipCore = Pick<RawNode, 'proposeConfChange' | 'confChangePending' | 'applyConfChange' | 'status'>;

/** What membership needs from its node. */
export interface MembershipHost {
  readonly core: MembershipCore;
  /** The role the Ready loop last reported: only a leader proposes changes. */
  isLeader(): boolean;
  closed(): boolean;
  /** Where to send an admin request this node cannot take. */
  leader(): Member | undefined;
  /** Callers waiting on the log: a change resolves like a write. */
  readonly proposals: Pick<ProposalWaiters, 'wait' | 'applied' | 'unusable'>;
  /** How long a change may wait for the previous one and for its own apply. */
  writeTimeoutMs(): number;
  /** The core has output to handle (a proposed change). */
  scheduleReady(): void;
  /** The peer links to keep (Transport.setPeers). */
  setPeers(peers: Peer[]): void;
  /** Whether this node was removed, told of each applied change first (removal.ts). */
  readonly removal: Pick<Removal, 'applied' | 'removed'>;
  /** Milliseconds since a peer was last heard from, undefined if never (PeerContact.sinceMs). */
  sinceMs(id: string): number | undefined;
  /** Whether the link to a peer is up (Transport.stats): a killed peer drops it at once. */
  linkUp(id: string): boolean;
}

/** An operator's change: `force` skips the strict reconfiguration check (etcd's --strict-reconfig-check=false). */
export interface ChangeOptions {
  force?: boolean;
}

export class Membership {
  /** The configuration as of the applied index. */
  conf: ConfState = { voters: [], learners: [] };

  constructor(
    private readonly host: MembershipHost,
    private readonly members: Members,
    private readonly cfg: Pick<NodeConfig, 'id' | 'tickMs' | 'peerCertFile' | 'electionTimeout'>,
    private readonly log: Logger,
  ) {}

  /**
   * Add a member as a learner; it is promoted to voter automatically once caught up. A learner
   * changes no quorum, but its entry still needs the voters' to commit (strict check).
   */
  async add(m: Member, opts: ChangeOptions = {}): Promise<void> {
    checkMember(m);
    if (this.conf.voters.includes(m.id) || this.conf.learners.includes(m.id)) {
      throw new MemberExistsError(m.id);
    }
    await this.propose({ type: ConfChangeType.AddLearner, node: m.id, context: encodeMember(m) }, () => this.check('adding', m.id, this.conf.voters, opts));
  }

  async remove(id: string, opts: ChangeOptions = {}): Promise<void> {
    if (!this.conf.voters.includes(id) && !this.conf.learners.includes(id)) throw new UnknownMemberError(id);
    await this.propose({ type: ConfChangeType.RemoveNode, node: id }, () =>
      this.check(
        'removing',
        id,
        this.conf.voters.filter((v) => v !== id),
        opts,
      ),
    );
  }

  /**
   * Make a learner a voter now. Learners are promoted automatically once caught up
   * (promoteCaughtUpLearners); this is the operator's way to ask, refused as etcd refuses it
   * while the learner is behind, since a voter that cannot vote yet weakens the quorum.
   */
  async promote(id: string, opts: ChangeOptions = {}): Promise<void> {
    if (this.conf.voters.includes(id)) throw new NotLearnerError(id);
    if (!this.conf.learners.includes(id)) throw new UnknownMemberError(id);
    if (!this.host.isLeader()) throw new NotLeaderError(this.host.leader());
    const status = this.host.core.status();
    const match = status.progress?.[id]?.match ?? 0;
    if (match < status.commit) throw new LearnerBehindError(id, match, status.commit);
    await this.propose({ type: ConfChangeType.AddVoter, node: id }, () => this.check('promoting', id, [...this.conf.voters, id], opts));
  }

  /**
   * The strict reconfiguration check (reconfig-check.ts), run by propose on the leader (only it
   * hears from every member; a follower sends the request on first).
   */
  private check(verb: ReconfigVerb, id: string, after: readonly string[], opts: ChangeOptions): void {
    if (opts.force) return;
    const why = unsafeReconfig(verb, id, this.conf.voters, after, (v) => this.active(v));
    if (why) throw new UnsafeReconfigError(why);
  }

  /**
   * Heard from within an election timeout and still linked, as etcd counts a member active only
   * while its peer connection is up: a peer that was killed a moment ago is down at once, not
   * an election timeout later. This node always is.
   */
  private active(id: string): boolean {
    if (id === this.cfg.id) return true;
    const since = this.host.sinceMs(id);
    return since !== undefined && since <= this.cfg.electionTimeout && this.host.linkUp(id);
  }

  /**
   * Changes go one at a time, so an admin request that arrives while the previous change (or a
   * new leader's no-op) is still being applied waits for it rather than failing: right after an
   * election, or while a learner is being promoted, a refusal would only make the operator retry.
   * `check` then judges the change against the configuration it will follow, and may refuse it.
   */
  async propose(cc: ConfChange, check?: () => void): Promise<unknown> {
    const deadline = Date.now() + this.host.writeTimeoutMs();
    for (;;) {
      if (this.host.closed()) throw new NodeClosedError();
      if (!this.host.isLeader()) throw new NotLeaderError(this.host.leader());
      if (!this.host.core.confChangePending) break;
      if (Date.now() >= deadline) throw new ConfChangePendingError();
      await new Promise((r) => setTimeout(r, this.cfg.tickMs));
    }
    check?.();
    const { index, term } = this.host.core.proposeConfChange(cc);
    this.host.scheduleReady();
    return this.host.proposals.wait(index, term, deadline);
  }

  /**
   * Every learner is a member on its way to voting (the admin API adds members only as learners
   * first), so whichever node leads promotes it once it has caught up: the leader that added it
   * may be gone by then. Called on the leader's ticks.
   */
  promoteCaughtUpLearners(): void {
    if (this.conf.learners.length === 0) return;
    const status = this.host.core.status();
    const pr = status.progress ?? {};
    for (const id of this.conf.learners) {
      if ((pr[id]?.match ?? 0) < status.commit) continue;
      // A caught-up learner that has since gone quiet would be a voter the quorum cannot count on.
      if (unsafeReconfig('promoting', id, this.conf.voters, [...this.conf.voters, id], (v) => this.active(v))) continue;
      try {
        const { index, term } = this.host.core.proposeConfChange({ type: ConfChangeType.AddVoter, node: id });
        void this.host.proposals.wait(index, term, Date.now() + this.host.writeTimeoutMs()).catch(() => undefined);
        this.log.info({ node: id }, 'learner caught up; proposing promotion to voter');
      } catch {
        // the previous change is not applied yet (one at a time); retry on a later tick
      }
      return;
    }
  }

  /**
   * Applies a committed conf change. The change itself always reaches the core, so that every
   * replica agrees on the voters; only an unusable address is skipped (the member then has no
   * known address). A record may only address the node the change is about, or one entry could
   * redirect another member's links.
   */
  apply(e: Entry): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(e.data);
      // Proposals are validated; NONE in the log would make "no node" a member.
      if (cc.node === NONE) throw new Error('conf change without a node id');
    } catch (err) {
      this.log.error({ err, index: e.index }, `conf change ${e.index} cannot be decoded; applied as a no-op`);
      this.host.proposals.unusable(e.index, `conf change ${e.index} could not be decoded`);
      return;
    }
    this.conf = this.host.core.applyConfChange(cc);
    let member: Member | undefined;
    try {
      member = decodeMember(cc.context);
      if (member && member.id !== cc.node) throw new InvalidMemberError('id', `${member.id} does not match the change's node ${cc.node}`);
    } catch (err) {
      member = undefined;
      this.log.error({ err, index: e.index, node: cc.node }, `conf change ${e.index} carries an unusable address; applied without it`);
    }
    if (member) this.members.set(member);
    if (cc.type === ConfChangeType.RemoveNode) this.members.delete(cc.node);
    this.log.info({ change: cc.type, node: cc.node, voters: this.conf.voters, learners: this.conf.learners }, 'membership changed');
    // Before the links are updated: a removed member's link is then closed as removed (removal.ts).
    this.host.removal.applied(cc);
    this.refreshPeers();
    this.host.proposals.applied(e.index, e.term, this.conf);
  }

  /** The configuration of a snapshot the node recovered from or installed. */
  restored(conf: ConfState): void {
    this.conf = conf;
    this.refreshPeers();
  }

  /**
   * Who may dial in: a voter or learner of our configuration, or a member whose address we know.
   * The address book holds the learners being added and, on a node started with --join, the
   * --peers it was given, so a joining node accepts the leader before it has applied the change
   * that makes the leader known to its core. A removed member loses its link (refreshPeers).
   */
  isPeer(id: string): boolean {
    return this.conf.voters.includes(id) || this.conf.learners.includes(id) || this.members.get(id) !== undefined;
  }

  /**
   * Links go to every configured member and every address we know: a node that is joining is in
   * no configuration yet (its own core's), but must still answer the leader.
   */
  refreshPeers(): void {
    const ids = new Set([...this.conf.voters, ...this.conf.learners, ...this.members.all().map((m) => m.id)]);
    ids.delete(this.cfg.id);
    if (this.host.removal.removed) ids.clear(); // a removed node talks to no one (removal.ts)
    const peers: Peer[] = [];
    for (const id of ids) {
      const m = this.members.get(id);
      if (m) peers.push({ id, url: raftUrl(m, secureHttp(this.cfg)) });
      else this.log.warn({ node: id }, 'member has no known address');
    }
    this.host.setPeers(peers);
  }
}
