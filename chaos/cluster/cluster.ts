/**
 * The cluster under test: node processes in their namespaces, the firewall between them, the
 * membership as the harness intends it, and a poller that records who claims to lead (for the
 * nemeses' targeting and the timeline).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { elapsed, sleep } from '../clock.ts';
import { type Cut, type Endpoint, Firewall } from '../net/firewall.ts';
import { Network } from '../net/network.ts';
import { LoopDisk } from './disk.ts';
import { ChaosNode, HTTP_PORT, type NodeSpec, type NodeStatus, RESP_PORT } from './node-proc.ts';
import { shardsSettled } from './shards.ts';

export interface ClusterOptions {
  nodes: number;
  /** The run's result directory; data/ and logs/ go below it. */
  dir: string;
  extraArgs: readonly string[];
  /** Data groups (`--shards`); above 1 the nodes host many groups and group 0 holds the slot map. */
  shards: number;
  /** The libfaketime library, when the clock nemesis runs. */
  faketimeLib?: string;
  /** Data directories on loop-mounted ext4 images, for the power nemesis (disk.ts). */
  loopDisks?: boolean;
  /** Called every second while another run owns the network. */
  onWait?: (owner: number) => void;
  log: (line: string) => void;
}

/** A node seen claiming leadership (or giving it up) by the poller. */
export interface RoleSample {
  t: number;
  node: string;
  role: string;
  term: number;
}

export interface UnexpectedExit {
  t: number;
  node: string;
  code: number | null;
  signal: string | null;
}

export class MembershipError extends Error {
  override name = 'MembershipError';
}

export class ChaosCluster {
  readonly network = new Network();
  readonly firewall = new Firewall((id) => this.endpoint(id));
  /** Every node this run created, including removed ones (their logs are still reported). */
  readonly all = new Map<string, ChaosNode>();
  /** The voters the harness intends; membership changes edit it. */
  members: string[] = [];
  readonly roles: RoleSample[] = [];
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly lastRole = new Map<string, string>();
  private readonly disks = new Map<string, LoopDisk>();
  private nextSlot = 1;
  private nextId = 1;
  private polling = false;
  private poller?: Promise<void>;

  constructor(private readonly opts: ClusterOptions) {}

  async start(): Promise<void> {
    mkdirSync(join(this.opts.dir, 'data'), { recursive: true });
    mkdirSync(join(this.opts.dir, 'logs'), { recursive: true });
    const stale = await this.network.create(10 * 60_000, (owner) => this.opts.onWait?.(owner));
    if (stale.length > 0) this.opts.log(`removed a dead run's leftovers: ${stale.join(', ')}`);
    const nodes = Array.from({ length: this.opts.nodes }, () => this.create());
    const peers = nodes.map((n) => n.peerAddress).join(',');
    for (const n of nodes) {
      n.spec.peers = peers;
      n.start();
    }
    this.members = nodes.map((n) => n.id);
    await Promise.all(nodes.map((n) => n.waitHttp(60_000)));
  }

  /** A new node (not yet started) in a fresh namespace slot. */
  private create(joining = false): ChaosNode {
    const id = `n${this.nextId++}`;
    const slot = this.network.slot(this.nextSlot++);
    const spec: NodeSpec = {
      id,
      slot,
      dataDir: join(this.opts.dir, 'data', id),
      logFile: join(this.opts.dir, 'logs', `${id}.log`),
      peers: '',
      join: joining,
      extraArgs: this.opts.shards > 1 && !joining ? ['--shards', String(this.opts.shards), ...this.opts.extraArgs] : this.opts.extraArgs,
      clock: this.opts.faketimeLib ? { lib: this.opts.faketimeLib, file: join(this.opts.dir, 'data', `${id}.faketime`) } : undefined,
    };
    if (this.opts.loopDisks) {
      const disk = new LoopDisk(join(this.opts.dir, 'data', `${id}.img`), spec.dataDir);
      this.disks.set(id, disk);
      disk.create();
    }
    const node = new ChaosNode(spec, (n, code, signal) => {
      this.unexpectedExits.push({ t: elapsed(), node: n.id, code, signal });
    });
    this.all.set(id, node);
    return node;
  }

  node(id: string): ChaosNode {
    const n = this.all.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  memberNodes(): ChaosNode[] {
    return this.members.map((id) => this.node(id));
  }

  /** The node serving RESP at host:port, for following -MOVED. */
  byAddress(host: string, port: number): ChaosNode | undefined {
    if (port !== RESP_PORT) return undefined;
    for (const n of this.all.values()) if (n.ip === host) return n;
    return undefined;
  }

  private endpoint(id: string): Endpoint | undefined {
    const n = this.all.get(id);
    return n && { ns: n.spec.slot.ns, ip: n.ip, httpPort: HTTP_PORT };
  }

  partition(cuts: readonly Cut[]): void {
    this.firewall.apply(cuts);
  }

  heal(): void {
    this.firewall.heal();
  }

  /** The member claiming leadership in the highest term, if any answers. */
  async leader(): Promise<ChaosNode | undefined> {
    const sts = await this.statuses();
    let best: NodeStatus | undefined;
    for (const s of sts.values()) if (s.role === 'leader' && (!best || s.term > best.term)) best = s;
    return best && this.all.get(best.id);
  }

  async statuses(nodes = this.memberNodes()): Promise<Map<string, NodeStatus>> {
    const out = new Map<string, NodeStatus>();
    const sts = await Promise.all(nodes.map((n) => n.status(800)));
    sts.forEach((s, i) => {
      if (s) out.set(nodes[i].id, s);
    });
    return out;
  }

  /**
   * Waits until every member runs, one leader is agreed on by all, it counts exactly the
   * intended voters, and every member has applied the leader's commit index. With shards, that
   * is group 0 (what /v1/cluster reports; nodes past its five voters are its learners), and
   * every data group must have a leader and every node the same map (shards.ts).
   */
  async waitHealthy(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const nodes = this.memberNodes();
      const sts = await this.statuses(nodes);
      const leaders = new Set([...sts.values()].map((s) => s.leader));
      const leader = [...sts.values()].find((s) => s.role === 'leader');
      if (sts.size === nodes.length && leaders.size === 1 && leader) {
        const sharded = this.opts.shards > 1;
        const voters = [...leader.voters, ...(sharded ? leader.learners : [])].sort().join(',');
        const caughtUp = [...sts.values()].every((s) => s.applied >= leader.commit);
        if (caughtUp && voters === [...this.members].sort().join(',') && (sharded || leader.learners.length === 0)) {
          if (!sharded || (await shardsSettled(nodes))) return true;
        }
      }
      await sleep(250);
    }
    return false;
  }

  // ---- membership ---------------------------------------------------------------------------

  /** Asks the leader to remove `id`, waits until the leader's configuration drops it, then stops it. */
  async removeMember(id: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.leader();
      if (leader) {
        const r = await fetch(leader.url(`/v1/cluster/members/${id}`), { method: 'DELETE', redirect: 'manual', signal: AbortSignal.timeout(3000) }).catch(
          (err: Error) => err,
        );
        if (!(r instanceof Error) && (r.ok || r.status === 404)) break;
      }
      if (Date.now() > deadline) throw new MembershipError(`could not remove ${id} within ${timeoutMs} ms`);
      await sleep(300);
    }
    this.members = this.members.filter((m) => m !== id);
    await this.node(id).kill9();
  }

  /** Starts a fresh node with --join and asks the leader to add it; resolves once it votes. */
  async addFreshMember(timeoutMs: number): Promise<ChaosNode> {
    const node = this.create(true);
    node.spec.peers = this.memberNodes()
      .map((n) => n.peerAddress)
      .join(',');
    node.start();
    await node.waitHttp(60_000);
    const deadline = Date.now() + timeoutMs;
    const body = JSON.stringify({ id: node.id, host: node.ip, port: RESP_PORT, http_port: HTTP_PORT });
    for (let added = false; ; ) {
      const leader = await this.leader();
      if (leader && !added) {
        const r = await fetch(leader.url('/v1/cluster/members'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(3000),
        }).catch((err: Error) => err);
        added = !(r instanceof Error) && (r.ok || r.status === 409);
      }
      const st = leader && (await leader.status());
      if (st?.voters.includes(node.id)) break;
      if (Date.now() > deadline) throw new MembershipError(`${node.id} was not promoted to voter within ${timeoutMs} ms`);
      await sleep(300);
    }
    this.members.push(node.id);
    return node;
  }

  // ---- the role poller ----------------------------------------------------------------------

  startPolling(everyMs = 250): void {
    this.polling = true;
    this.poller = (async () => {
      while (this.polling) {
        const nodes = [...this.all.values()].filter((n) => n.running || this.lastRole.get(n.id) !== 'down@-1');
        const sts = await this.statuses(nodes);
        const t = elapsed();
        for (const n of nodes) {
          const s = sts.get(n.id);
          // Killed, paused or cut off from the harness: shown as a gap in the timeline.
          const role = s ? s.role : 'down';
          const term = s ? s.term : -1;
          if (this.lastRole.get(n.id) === `${role}@${term}`) continue;
          this.lastRole.set(n.id, `${role}@${term}`);
          this.roles.push({ t, node: n.id, role, term });
        }
        await sleep(everyMs);
      }
    })();
  }

  async stopPolling(): Promise<void> {
    this.polling = false;
    await this.poller;
  }

  /**
   * Power loss for a node whose process is dead: its data directory keeps only what reached
   * the disk (see disk.ts).
   */
  loseUnsynced(id: string): void {
    const disk = this.disks.get(id);
    if (!disk) throw new Error(`${id} has no loop disk; the power nemesis needs them`);
    if (this.node(id).running) throw new Error(`${id} is still running`);
    disk.loseUnsynced();
  }

  /** Synchronous tear-down: resume, kill, heal, unmount, and remove the network. Safe to call twice. */
  teardown(): void {
    for (const n of this.all.values()) {
      n.resume();
      n.killNow();
    }
    for (const d of this.disks.values()) d.destroy();
    this.firewall.heal();
    this.network.destroy();
  }
}
