/**
 * The node's side of the cluster-wide settings (kv/settings.ts): turns the values in the state
 * machine into this node's effective ones (`cfg.requirepass`, `cfg.maxmemory`,
 * `cfg.maxmemoryPolicy`, read per request by RESP and HTTP).
 *
 * Precedence: a value set through the log wins over the node's flag from then on, like etcd's
 * cluster-wide config; the flag only applies while the log has never set that setting.
 *
 * A restart must not serve a moment under the flags: RESP and HTTP listen before the Ready loop
 * re-applies the committed log, and a connection accepted without a password stays
 * authenticated. So on open the node adopts the settings as of its committed log at once
 * (`atCommit`), and ignores the older values it meets while re-applying that log.
 */

import { type ClusterSettings, decodeEntry, type IgnoredSetting, mergeSettings } from '../kv/index.ts';
import { type Entry, EntryType } from '../raft/types.ts';
import type { NodeConfig } from './config.ts';
import type { Logger } from './logger.ts';

export type Effective = Pick<NodeConfig, 'requirepass' | 'maxmemory' | 'maxmemoryPolicy'>;

export class NodeSettings {
  private readonly flags: Effective;
  /** While re-applying the log committed before a restart: its last index. */
  private replayTo = 0;

  constructor(
    private readonly cfg: NodeConfig,
    private readonly log: Logger,
    /**
     * On a multi-group node only group 0's settings are the node's (`adopts`); a data group's
     * would overwrite them with whatever its own log holds. `adopted` hears each adoption, so
     * the store can hand maxmemory and the policy to every data group's state machine.
     */
    private readonly role: { readonly adopts: boolean; readonly adopted?: (cfg: Readonly<Effective>) => void } = { adopts: true },
  ) {
    this.flags = { requirepass: cfg.requirepass, maxmemory: cfg.maxmemory, maxmemoryPolicy: cfg.maxmemoryPolicy };
  }

  /**
   * On open, after the snapshot (`base`) is restored: adopts the settings as of `entries`, the
   * rest of the committed log, which the Ready loop will apply again shortly.
   */
  atCommit(base: Readonly<ClusterSettings>, entries: readonly Entry[]): void {
    const s: ClusterSettings = { ...base };
    for (const e of entries) {
      if (e.type !== EntryType.Normal || e.data.length === 0) continue;
      try {
        const entry = decodeEntry(e.data);
        // CONFIG SET never joins a MULTI's entry, so a watched entry holds no CONFIG op.
        if (entry.watch) continue;
        for (const op of entry.ops) if (op.type === 'config') mergeSettings(s, op.pairs);
      } catch {
        // Apply decides what an undecodable entry does; caughtUp adopts its outcome.
      }
    }
    if (entries.length > 0) this.replayTo = entries[entries.length - 1].index;
    this.adopt(s);
  }

  /** A CONFIG entry at `index` was applied: adopt the state machine's settings. */
  applied(index: number, settings: Readonly<ClusterSettings>, ignored: readonly IgnoredSetting[]): void {
    for (const i of ignored) this.log.warn({ setting: i.name, why: i.why, index }, 'ignored a cluster-wide setting in the log');
    // Re-applying the log after a restart: atCommit already adopted the newer values.
    if (index >= this.replayTo) this.adopt(settings);
  }

  /** After each batch of applied entries: once the replay is over, the state machine decides. */
  caughtUp(applied: number, settings: Readonly<ClusterSettings>): void {
    if (this.replayTo === 0 || applied < this.replayTo) return;
    this.replayTo = 0;
    this.adopt(settings);
  }

  /** A snapshot replaced the state machine: its settings, whatever was being replayed. */
  restored(settings: Readonly<ClusterSettings>): void {
    this.replayTo = 0;
    this.adopt(settings);
  }

  /** Never logs a value: one is the password. */
  private adopt(s: Readonly<ClusterSettings>): void {
    if (!this.role.adopts) return;
    const cfg = this.cfg;
    const changed =
      cfg.requirepass !== (s.requirepass ?? this.flags.requirepass) ||
      cfg.maxmemory !== (s.maxmemory ?? this.flags.maxmemory) ||
      cfg.maxmemoryPolicy !== (s.maxmemoryPolicy ?? this.flags.maxmemoryPolicy);
    cfg.requirepass = s.requirepass ?? this.flags.requirepass;
    cfg.maxmemory = s.maxmemory ?? this.flags.maxmemory;
    cfg.maxmemoryPolicy = s.maxmemoryPolicy ?? this.flags.maxmemoryPolicy;
    if (changed) {
      // Whether a password is set, never which.
      const requirepass = cfg.requirepass !== '';
      const { maxmemory, maxmemoryPolicy } = cfg;
      this.log.info({ clusterWide: Object.keys(s), requirepass, maxmemory, maxmemoryPolicy }, 'cluster-wide settings adopted');
    }
    this.role.adopted?.(cfg);
  }
}
