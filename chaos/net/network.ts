/**
 * The run's private network: a Linux bridge in the root namespace holding 10.77.0.1/24, and one
 * network namespace per node slot, joined to the bridge by a veth pair, with the address
 * 10.77.0.(10 + slot). Node processes run inside their namespace, so iptables rules there cut
 * real packets between nodes (firewall.ts); the clients, in the root namespace, reach every node
 * through the bridge. Nothing is routed anywhere else: the namespaces have no default route.
 *
 * Every name starts with `rkvc`, so a crashed run's leftovers are found and removed by
 * `--cleanup`. Only one run can own the network at a time (the bridge is the lock).
 */
import { hasCommand, inNamespace, sh, shQuiet } from './sh.ts';

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

  /** Checks the tools and that the network is free, then creates the bridge. */
  create(): void {
    for (const tool of ['ip', 'iptables']) {
      if (!hasCommand(tool)) {
        throw new NetworkError(`'${tool}' is missing: apt-get install -y iproute2 iptables (the chaos suite needs root)`);
      }
    }
    if (shQuiet(['ip', 'link', 'show', BRIDGE])) {
      throw new NetworkError(`bridge ${BRIDGE} exists: another chaos run is active, or a crashed one left it (run with --cleanup)`);
    }
    const clash = sh(['ip', '-o', '-4', 'addr', 'show']).split('\n').find((l) => l.includes(` ${SUBNET}.`));
    if (clash) throw new NetworkError(`${SUBNET}.0/24 is already in use here: ${clash.trim()}`);
    this.up = true;
    sh(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    sh(['ip', 'addr', 'add', `${BRIDGE_IP}/24`, 'dev', BRIDGE]);
    sh(['ip', 'link', 'set', BRIDGE, 'up']);
    sh(['iptables', '-I', ...FORWARD_RULE]);
    this.forwardRule = true;
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
  }
}

/** Removes a crashed run's namespaces, veths, bridge and FORWARD rule (all named rkvc*). */
export function cleanupStale(): string[] {
  const removed: string[] = [];
  for (const line of sh(['ip', 'netns', 'list']).split('\n')) {
    const ns = line.split(' ')[0];
    if (ns.startsWith(`${NET_PREFIX}-`) && shQuiet(['ip', 'netns', 'del', ns])) removed.push(`netns ${ns}`);
  }
  for (const line of sh(['ip', '-o', 'link', 'show']).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith(NET_PREFIX) && name !== BRIDGE && shQuiet(['ip', 'link', 'del', name])) removed.push(`link ${name}`);
  }
  while (shQuiet(['iptables', '-D', ...FORWARD_RULE])) removed.push('FORWARD rule');
  if (shQuiet(['ip', 'link', 'del', BRIDGE])) removed.push(`bridge ${BRIDGE}`);
  return removed;
}
