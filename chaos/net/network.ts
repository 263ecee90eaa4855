/**
 * The run's private network: a Linux bridge in the root namespace holding 10.77.0.1/24, and one
 * network namespace per node slot, joined to the bridge by a veth pair, with the address
 * 10.77.0.(10 + slot). Node processes run inside their namespace, so iptables rules there cut
 * real packets between nodes (firewall.ts); the clients, in the root namespace, reach every node
 * through the bridge. Nothing is routed anywhere else: the namespaces have no default route.
 *
 * Every name starts with `rkvc`, so a crashed run's leftovers are found and removed by
 * `--cleanup`. Only one run can own the network at a time: the owner's pid is in LOCK_FILE.
 * A second run waits for the first to finish; leftovers of a run whose process is gone are
 * removed first.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hasCommand, inNamespace, sh, shQuiet } from './sh.ts';

export const LOCK_FILE = '/run/rkvc-chaos.pid';

export const NET_PREFIX = 'rkvc';
const BRIDGE = `${NET_PREFIX}br0`;
const SUBNET = '10.77.0';
const BRIDGE_IP = `${SUBNET}.1`;
const MAX_SLOT = 240;
/** Bridged frames pass the root FORWARD chain (br_netfilter); a DROP policy there (dockerd sets one) would cut every link. */
const FORWARD_RULE = ['FORWARD', '-i', BRIDGE, '-o', BRIDGE, '-j', 'ACCEPT'];

export class NetworkError extends Error {
  override name = 'NetworkError';
}

export interface Slot {
  slot: number;
  ns: string;
  ip: string;
}

export class Network {
  private readonly slots = new Map<number, Slot>();
  private forwardRule = false;
  private up = false;
  private locked = false;

  /**
   * Checks the tools, waits (up to `waitMs`) while another live run owns the network, removes
   * a dead run's leftovers (returned, for the log), then creates the bridge.
   */
  async create(waitMs: number, onWait: (owner: number) => void = () => {}): Promise<string[]> {
    for (const tool of ['ip', 'iptables']) {
      if (!hasCommand(tool)) {
        throw new NetworkError(`'${tool}' is missing: apt-get install -y iproute2 iptables (the chaos suite needs root)`);
      }
    }
    const deadline = Date.now() + waitMs;
    for (let owner = networkOwner(); owner !== undefined; owner = networkOwner()) {
      if (Date.now() >= deadline) throw new NetworkError(`another chaos run (pid ${owner}) still owns the network after ${waitMs} ms`);
      onWait(owner);
      await new Promise((r) => setTimeout(r, 1000));
    }
    writeFileSync(LOCK_FILE, String(process.pid));
    this.locked = true;
    const stale = shQuiet(['ip', 'link', 'show', BRIDGE]) ? cleanupStale() : [];
    const clash = sh(['ip', '-o', '-4', 'addr', 'show'])
      .split('\n')
      .find((l) => l.includes(` ${SUBNET}.`));
    if (clash) throw new NetworkError(`${SUBNET}.0/24 is already in use here: ${clash.trim()}`);
    this.up = true;
    sh(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    sh(['ip', 'addr', 'add', `${BRIDGE_IP}/24`, 'dev', BRIDGE]);
    sh(['ip', 'link', 'set', BRIDGE, 'up']);
    sh(['iptables', '-I', ...FORWARD_RULE]);
    this.forwardRule = true;
    return stale;
  }

  /** Creates (once) the namespace of a node slot and plugs it into the bridge. */
  slot(n: number): Slot {
    const existing = this.slots.get(n);
    if (existing) return existing;
    if (!Number.isInteger(n) || n < 1 || n > MAX_SLOT) throw new NetworkError(`slot ${n} is outside 1-${MAX_SLOT}`);
    const s: Slot = { slot: n, ns: `${NET_PREFIX}-s${n}`, ip: `${SUBNET}.${10 + n}` };
    const veth = `${NET_PREFIX}-v${n}`;
    this.slots.set(n, s);
    sh(['ip', 'netns', 'add', s.ns]);
    sh(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', s.ns]);
    sh(['ip', 'link', 'set', veth, 'master', BRIDGE, 'up']);
    sh(inNamespace(s.ns, ['ip', 'addr', 'add', `${s.ip}/24`, 'dev', 'eth0']));
    sh(inNamespace(s.ns, ['ip', 'link', 'set', 'eth0', 'up']));
    sh(inNamespace(s.ns, ['ip', 'link', 'set', 'lo', 'up']));
    return s;
  }

  /** Removes everything this run created; safe to call twice and from an 'exit' handler. */
  destroy(): void {
    for (const s of this.slots.values()) {
      shQuiet(['ip', 'netns', 'del', s.ns]);
      shQuiet(['ip', 'link', 'del', `${NET_PREFIX}-v${s.slot}`]);
    }
    this.slots.clear();
    if (this.forwardRule) shQuiet(['iptables', '-D', ...FORWARD_RULE]);
    this.forwardRule = false;
    if (this.up) shQuiet(['ip', 'link', 'del', BRIDGE]);
    this.up = false;
    if (this.locked && networkOwner() === process.pid) rmSync(LOCK_FILE, { force: true });
    this.locked = false;
  }
}

/** The pid of the live process that owns the network, if any. */
export function networkOwner(): number | undefined {
  if (!existsSync(LOCK_FILE)) return undefined;
  const pid = Number(readFileSync(LOCK_FILE, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Removes a crashed run's namespaces, veths, bridge and FORWARD rule (all named rkvc*), and its
 * lock file. Only call it when no live run owns the network.
 */
export function cleanupStale(): string[] {
  const removed: string[] = [];
  for (const line of sh(['ip', 'netns', 'list']).split('\n')) {
    const ns = line.split(' ')[0];
    if (!ns.startsWith(`${NET_PREFIX}-`)) continue;
    // Node processes a dead harness left in its namespaces (by pid, found through the namespace).
    for (const pid of sh(['ip', 'netns', 'pids', ns])
      .split('\n')
      .map(Number)
      .filter((p) => p > 0)) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
        removed.push(`process ${pid}`);
      } catch {
        // Already gone.
      }
    }
    if (shQuiet(['ip', 'netns', 'del', ns])) removed.push(`netns ${ns}`);
  }
  removed.push(...cleanupLoopDisks());
  for (const line of sh(['ip', '-o', 'link', 'show']).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith(NET_PREFIX) && name !== BRIDGE && shQuiet(['ip', 'link', 'del', name])) removed.push(`link ${name}`);
  }
  while (shQuiet(['iptables', '-D', ...FORWARD_RULE])) removed.push('FORWARD rule');
  if (shQuiet(['ip', 'link', 'del', BRIDGE])) removed.push(`bridge ${BRIDGE}`);
  if (existsSync(LOCK_FILE) && networkOwner() === undefined) {
    rmSync(LOCK_FILE, { force: true });
    removed.push(LOCK_FILE);
  }
  return removed;
}

/** Loop disks of the power nemesis (`.../chaos/results/<run>/data/<id>.img`) a dead harness left mounted. */
function cleanupLoopDisks(): string[] {
  const removed: string[] = [];
  const list = shQuiet(['losetup', '--version']) ? sh(['losetup', '--list', '--noheadings', '--raw', '-O', 'NAME,BACK-FILE']) : '';
  for (const line of list.split('\n')) {
    const [dev, file] = line.trim().split(/\s+/, 2);
    if (!dev || !file || !/\/data\/n\d+\.img(\.crash)?( \(deleted\))?$/.test(file) || !file.includes('/results/')) continue;
    for (const target of sh(['sh', '-c', `findmnt -n -o TARGET -S ${dev} || true`])
      .split('\n')
      .filter(Boolean)) {
      shQuiet(['umount', '-l', target]);
    }
    if (shQuiet(['losetup', '-d', dev])) removed.push(`loop ${dev} (${file})`);
  }
  return removed;
}
