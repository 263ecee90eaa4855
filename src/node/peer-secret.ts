/**
 * The cluster secret that authenticates peer links (transport/handshake.ts), and when a node
 * may run without one.
 *
 * There is no built-in secret. A node whose peer addresses are all loopback (its peer bind
 * address, the address it announces, every --peers host) may run without one: its links then
 * authenticate with a secret derived from the cluster token (not from the stored cluster id,
 * cluster-id.ts: a node joining with empty data must authenticate before it knows that). That secret is public, so it only
 * stands for "a process on this machine", which loopback already means; `raftkv cluster`
 * generates a real one anyway. Off loopback a node refuses to start without a secret of at least
 * MIN_SECRET_BYTES (etcd-like strictness), unless mutual peer TLS (peer-cert-file with
 * peer-client-cert-auth) authenticates its peers instead.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isLoopbackHost } from './access.ts';
import { ConfigError, type NodeConfig, type SettingName } from './config.ts';
import { secureHttp } from './tls-config.ts';

export const MIN_SECRET_BYTES = 16;

/** The peer addresses of `cfg` that are not loopback: what other machines would use. */
export function offLoopbackPeerAddresses(cfg: NodeConfig): string[] {
  const hosts = [cfg.httpHost, cfg.advertiseHost, ...cfg.peers.map((p) => p.host)];
  return [...new Set(hosts.filter((h) => !isLoopbackHost(h)))];
}

/**
 * Settles `cfg.clusterSecret` (reading cluster-secret-file) and refuses what must not start, with
 * a ConfigError naming the setting. `flags` are the raw flag values: an explicitly empty flag is
 * a mistake (an empty RAFTKV_* variable counts as unset, as for every setting).
 */
export function settlePeerSecret(cfg: NodeConfig, flags: Partial<Record<SettingName, unknown>>): void {
  for (const name of ['cluster-secret', 'cluster-secret-file'] as const) {
    if (flags[name] === '') throw new ConfigError(name, 'is empty: give a value, or leave the flag out');
  }
  if (cfg.clusterSecret && cfg.clusterSecretFile) {
    throw new ConfigError('cluster-secret-file', 'give cluster-secret or cluster-secret-file, not both');
  }
  let source: SettingName = 'cluster-secret';
  if (cfg.clusterSecretFile) {
    source = 'cluster-secret-file';
    let text: string;
    try {
      text = readFileSync(cfg.clusterSecretFile, 'utf8');
    } catch (err) {
      throw new ConfigError(source, `cannot read ${cfg.clusterSecretFile}: ${(err as Error).message}`);
    }
    cfg.clusterSecret = text.trim();
    if (!cfg.clusterSecret) throw new ConfigError(source, `${cfg.clusterSecretFile} is empty`);
  }
  const remote = offLoopbackPeerAddresses(cfg);
  if (remote.length === 0) return;
  // Mutual peer TLS authenticates the machines at the other end by certificate, so the HMAC
  // handshake on top may use the derived secret (it then only binds node and cluster ids).
  if (!cfg.clusterSecret && secureHttp(cfg) && cfg.peerClientCertAuth) return;
  if (!cfg.clusterSecret) {
    throw new ConfigError(
      'cluster-secret',
      `peer links use ${remote.join(', ')}, which is not loopback: set cluster-secret-file (or cluster-secret) to a secret of at least ${MIN_SECRET_BYTES} bytes shared by every node`,
    );
  }
  if (Buffer.byteLength(cfg.clusterSecret) < MIN_SECRET_BYTES) {
    throw new ConfigError(source, `must be at least ${MIN_SECRET_BYTES} bytes when peer links leave loopback (${remote.join(', ')})`);
  }
}

/** The secret peer links use: the configured one, else the loopback-only one of the cluster. */
export function peerSecret(cfg: Pick<NodeConfig, 'clusterSecret' | 'clusterToken'>): { secret: string; derived: boolean } {
  if (cfg.clusterSecret) return { secret: cfg.clusterSecret, derived: false };
  const secret = createHash('sha256').update(`raftkv loopback-only peer secret\0${cfg.clusterToken}`).digest('hex');
  return { secret, derived: true };
}
