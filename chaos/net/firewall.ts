/**
 * Network partitions as iptables rules inside the receiving node's namespace.
 *
 * A `Cut` says that `to` no longer hears `from`. Two kinds:
 * - `all`: every packet from `from` is dropped at `to`. Since TCP needs packets both ways, this
 *   kills every connection between the two; a symmetric partition is a pair of these.
 * - `messages`: only packets from `from` to `to`'s peer port are dropped. RaftKV's transport
 *   dials one connection per direction (the dialer only sends), so this silences exactly the
 *   Raft messages `from` sends to `to`, while `to`'s messages to `from` still get through: the
 *   asymmetric "A hears B, B does not hear A".
 */
import { inNamespace, sh } from './sh.ts';

export interface Cut {
  from: string;
  to: string;
  mode: 'all' | 'messages';
}

export interface Endpoint {
  ns: string;
  ip: string;
  httpPort: number;
}

export class Firewall {
  private readonly dirty = new Set<string>();

  constructor(private readonly endpoint: (id: string) => Endpoint | undefined) {}

  apply(cuts: readonly Cut[]): void {
    for (const c of cuts) {
      const to = this.endpoint(c.to);
      const from = this.endpoint(c.from);
      if (!to || !from) continue;
      const match = c.mode === 'all' ? ['-s', from.ip] : ['-s', from.ip, '-p', 'tcp', '--dport', String(to.httpPort)];
      this.dirty.add(to.ns);
      sh(inNamespace(to.ns, ['iptables', '-A', 'INPUT', ...match, '-j', 'DROP']));
    }
  }

  /** Removes every rule this run added (namespaces already gone are skipped). */
  heal(): void {
    for (const ns of this.dirty) {
      try {
        sh(inNamespace(ns, ['iptables', '-F', 'INPUT']));
      } catch {
        // The namespace was removed with its node (membership change); nothing left to heal.
      }
    }
    this.dirty.clear();
  }
}

/** Both directions cut between every node of `a` and every node of `b`. */
export function cutBetween(a: readonly string[], b: readonly string[]): Cut[] {
  const cuts: Cut[] = [];
  for (const x of a) {
    for (const y of b) {
      if (x === y) continue;
      cuts.push({ from: x, to: y, mode: 'all' }, { from: y, to: x, mode: 'all' });
    }
  }
  return cuts;
}
