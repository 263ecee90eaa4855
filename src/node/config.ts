/**
 * Node configuration: one `as const` table names every setting once, with its flag, its
 * environment variable, its type and its default. Flags beat the environment, which beats the
 * JSON config file, which beats the defaults. A bad value stops the process with an error that
 * names the setting. How a value of each kind is read: config-values.ts; what is checked across
 * settings once they are merged: here.
 */
import { readFileSync } from 'node:fs';
import { MAX_SESSION_TTL_MS } from '../kv/sessions.ts';
import { hostProblem, nodeIdProblem } from './addresses.ts';
import { DEFAULT_OUTPUT_LIMITS, parseOutputLimits } from './client-limits.ts';
import { ConfigError, coerce, type SettingSpec, type ValueOf } from './config-values.ts';

// Named from here, beside the table, by the node and the CLI.
export { ConfigError, type PeerAddress, parsePeers } from './config-values.ts';

export const EVICTION_POLICIES = ['noeviction', 'allkeys-lru', 'volatile-lru', 'allkeys-random', 'volatile-ttl'] as const;
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const READ_MODES = ['safe', 'lease'] as const;
export const YES_NO = ['yes', 'no'] as const;
export const TLS_AUTH_CLIENTS = ['yes', 'no', 'optional'] as const;

/** Flag names are the keys in kebab-case; env vars are RAFTKV_ + upper snake case. */
export const SETTINGS = {
  id: { kind: 'string', default: 'n1', help: 'node id, unique in the cluster' },
  'cluster-token': {
    kind: 'string',
    default: 'raftkv',
    help: 'name shared by the nodes of one cluster: seeds the cluster id made at bootstrap and the loopback-only peer secret (etcd: initial-cluster-token)',
  },
  'cluster-secret': {
    kind: 'string',
    default: '',
    help: 'shared secret for peer links, at least 16 bytes; required unless every peer address is loopback (prefer cluster-secret-file: ps shows flags)',
  },
  'cluster-secret-file': { kind: 'string', default: '', help: 'file holding the cluster secret (trimmed); raftkv cluster makes one' },
  'data-dir': { kind: 'string', default: './data/n1', help: 'LevelDB data directory' },
  host: { kind: 'string', default: '127.0.0.1', help: 'RESP bind address' },
  port: { kind: 'int', default: 6379, min: 0, help: 'RESP port (0: no plain RESP, with --tls-port as in Redis)' },
  'http-host': { kind: 'string', default: '127.0.0.1', help: 'HTTP + peer bind address' },
  'http-port': { kind: 'int', default: 0, min: 0, help: 'HTTP + peer port (0: RESP port, else TLS port, + 10000)' },
  'advertise-host': { kind: 'string', default: '', help: 'host announced to clients and peers (default: host)' },
  'advertise-port': { kind: 'int', default: 0, min: 0, help: 'RESP port announced to clients (default: port)' },
  'advertise-http-port': { kind: 'int', default: 0, min: 0, help: 'HTTP port announced (default: http-port)' },
  'advertise-tls-port': { kind: 'int', default: 0, min: 0, help: 'RESP TLS port announced to TLS clients (default: tls-port)' },
  peers: {
    kind: 'peers',
    default: [],
    help: 'initial voters: id=host:resp_port[:http_port[:tls_port]],... (with --join: the existing members)',
  },
  join: { kind: 'bool', default: false, help: 'start empty and wait to be added as a member' },
  rebalance: {
    kind: YES_NO,
    default: 'yes',
    help: 'sharded clusters: the metadata group leader spreads replicas and leaders evenly and empties draining nodes, one change every few seconds',
  },
  'rebalance-dead-after': {
    kind: 'duration',
    default: 60_000,
    min: 1,
    help: 'sharded clusters: a member not heard from this long is dead, and the rebalancer replaces its replicas (a shorter outage only moves leaders)',
  },
  shards: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 64,
    help: 'Raft groups the 16384 slots are spread over when the cluster is bootstrapped (1: one group; a sharded node also runs the slot map group 0)',
  },
  'exit-when-removed': {
    kind: YES_NO,
    default: 'yes',
    help: 'once removed from the cluster, stop (exit code 0); no: stay up, reporting removed on /readyz and INFO',
  },
  'tick-ms': { kind: 'duration', default: 50, min: 1, help: 'raft tick interval' },
  'election-ticks': { kind: 'int', default: 10, min: 2, help: 'election timeout in ticks' },
  'heartbeat-ticks': { kind: 'int', default: 1, min: 1, help: 'heartbeat interval in ticks' },
  // etcd's names, in time: each is a whole number of ticks and, when given, sets the tick count.
  'election-timeout': {
    kind: 'duration',
    default: 0,
    min: 0,
    help: 'election timeout as a time (1s, 500ms), a multiple of tick-ms; wins over election-ticks (0: election-ticks x tick-ms)',
  },
  'heartbeat-interval': {
    kind: 'duration',
    default: 0,
    min: 0,
    help: 'heartbeat interval as a time (100ms), a multiple of tick-ms; wins over heartbeat-ticks (0: heartbeat-ticks x tick-ms)',
  },
  'request-timeout-ms': {
    kind: 'duration',
    default: 5000,
    min: 100,
    help: 'how long a write or linearizable read waits for the log before answering "outcome unknown" / TRYAGAIN (etcd: 5 s)',
  },
  'read-mode': { kind: READ_MODES, default: 'safe', help: 'linearizable reads: safe (ReadIndex) or lease' },
  'follower-proxy': {
    kind: YES_NO,
    default: 'no',
    help: 'a follower forwards commands that need the leader over its peer link and relays the reply, for plain (non-cluster) Redis clients; no: -MOVED, as Redis Cluster (RedisRaft: follower-proxy)',
  },
  'snapshot-entries': { kind: 'int', default: 100_000, min: 1, help: 'snapshot after this many entries' },
  'snapshot-bytes': { kind: 'bytes', default: 64 * 1024 * 1024, min: 1, help: 'or after this many log bytes' },
  'snapshot-keep-entries': { kind: 'int', default: 5_000, min: 0, help: 'log tail kept after compaction' },
  'snapshot-keep-bytes': {
    kind: 'bytes',
    default: 8 * 1024 * 1024,
    min: 0,
    help: 'and at most this many bytes of it (followers further behind get the snapshot)',
  },
  'log-memory-entries': {
    kind: 'int',
    default: 1024,
    min: 0,
    help: 'applied log entries kept in memory per group for followers that trail; older ones are read back from disk',
  },
  'log-memory-bytes': { kind: 'bytes', default: 1024 * 1024, min: 0, help: 'and at most this many bytes of them' },
  'max-snapshot-bytes': {
    kind: 'bytes',
    default: 2 * 1024 * 1024 * 1024,
    min: 1,
    help: 'largest snapshot accepted from the leader, checked before any memory is allocated (etcd: 2 GiB backend quota)',
  },
  // Cluster-wide: CONFIG SET replicates these through the log, and a value set that way wins
  // over the flag from then on; the flag only seeds a cluster that never set one.
  maxmemory: { kind: 'bytes', default: 0, min: 0, help: 'bytes of data before eviction (0: no limit); cluster-wide once CONFIG SET' },
  'maxmemory-policy': { kind: EVICTION_POLICIES, default: 'noeviction', help: 'eviction policy; cluster-wide once CONFIG SET' },
  requirepass: {
    kind: 'string',
    default: '',
    help: 'password clients must AUTH with (RESP) or send as Bearer / Basic default:<pw> (HTTP); cluster-wide once CONFIG SET',
  },
  'http-token': { kind: 'string', default: '', help: 'HTTP Bearer token, instead of requirepass, for every route but /healthz and /readyz' },
  'metrics-public': { kind: 'bool', default: false, help: 'serve /metrics without authentication (for scrapers)' },
  'protected-mode': {
    kind: YES_NO,
    default: 'yes',
    help: 'while no password is set, refuse RESP and HTTP clients that are not on loopback (Redis: protected-mode)',
  },
  'idempotency-ttl-ms': {
    kind: 'int',
    default: 24 * 3600 * 1000,
    min: 1,
    max: MAX_SESSION_TTL_MS,
    help: 'how long an HTTP Idempotency-Key answers a retry with the first result, judged by entry timestamps (Stripe: 24 h)',
  },
  'max-value-bytes': { kind: 'bytes', default: 32 * 1024 * 1024, min: 1, help: 'largest value accepted (one log entry)' },
  'max-http-body-bytes': { kind: 'bytes', default: 16 * 1024 * 1024, min: 1, help: 'largest HTTP body' },
  maxclients: { kind: 'int', default: 10_000, min: 1, help: 'maximum RESP clients' },
  // TLS (docs/security.md, "TLS"). RESP uses Redis's names; the HTTP port (API and peer
  // route) and the peer links use etcd's, prefixed http- and peer-. Files are read at start.
  'tls-port': { kind: 'int', default: 0, min: 0, help: 'RESP over TLS port (0: off)' },
  'tls-cert-file': { kind: 'string', default: '', help: 'RESP TLS certificate (PEM)' },
  'tls-key-file': { kind: 'string', default: '', help: 'RESP TLS private key (PEM)' },
  'tls-ca-cert-file': { kind: 'string', default: '', help: 'CA bundle that RESP client certificates must chain to' },
  'tls-auth-clients': { kind: TLS_AUTH_CLIENTS, default: 'yes', help: 'RESP client certificates: yes (required), optional, no' },
  'http-cert-file': { kind: 'string', default: '', help: 'HTTPS certificate of the HTTP port (default: peer-cert-file)' },
  'http-key-file': { kind: 'string', default: '', help: 'HTTPS private key (default: peer-key-file)' },
  'http-trusted-ca-file': { kind: 'string', default: '', help: 'CA bundle for API client certificates' },
  'http-client-cert-auth': { kind: 'bool', default: false, help: 'API clients must present a certificate from http-trusted-ca-file' },
  'peer-cert-file': { kind: 'string', default: '', help: 'peer TLS certificate (turns on wss:// peer links)' },
  'peer-key-file': { kind: 'string', default: '', help: 'peer TLS private key' },
  'peer-trusted-ca-file': { kind: 'string', default: '', help: "CA bundle that peers' certificates must chain to" },
  'peer-client-cert-auth': { kind: 'bool', default: true, help: 'with peer TLS, inbound peers must present a certificate' },
  'client-query-buffer-limit': {
    kind: 'bytes',
    default: 64 * 1024 * 1024,
    min: 1024 * 1024,
    help: 'bytes one RESP client may hold in unfinished requests before it is closed (Redis: 1gb; keep above max-value-bytes)',
  },
  'client-output-buffer-limit': {
    kind: 'string',
    default: DEFAULT_OUTPUT_LIMITS,
    help: "Redis's <class> <hard> <soft> <soft-seconds> groups (classes normal, pubsub): owed reply bytes that close a client",
  },
  'maxmemory-clients': {
    kind: 'bytes',
    default: 256 * 1024 * 1024,
    min: 0,
    help: 'total bytes of all RESP clients before the biggest are closed (0: no limit; Redis: 0)',
  },
  timeout: { kind: 'int', default: 0, min: 0, help: 'close RESP clients idle this many seconds (0: never)' },
  'log-level': { kind: LOG_LEVELS, default: 'info', help: 'pino log level' },
  'trace-writes': {
    kind: 'string',
    default: '',
    help: 'directory for a per-stage trace of writes, written on SIGUSR2 (test/bench/trace-write.ts; empty: off)',
  },
  config: { kind: 'string', default: '', help: 'JSON config file' },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** `max-value-bytes` → `maxValueBytes`. */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

/**
 * The resolved settings, derived from SETTINGS so a setting is declared once: every row but
 * `config` (the file the others came from) becomes a camel-case field of its kind's type.
 */
export type NodeConfig = {
  -readonly [N in Exclude<SettingName, 'config'> as Camel<N>]: ValueOf<(typeof SETTINGS)[N]['kind']>;
};

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const envName = (s: string) => `RAFTKV_${s.replace(/-/g, '_').toUpperCase()}`;

/**
 * Merge the sources into a validated config. `flags` holds raw flag values by setting name
 * (strings from util.parseArgs, booleans for bool flags).
 */
export function resolveConfig(flags: Partial<Record<SettingName, unknown>>, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const file = (flags.config as string | undefined) ?? env[envName('config')] ?? '';
  let fromFile: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('config', `cannot read ${file}: ${(err as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError('config', `${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new ConfigError('config', `${file} must hold a JSON object`);
    }
    for (const key of Object.keys(fromFile)) {
      if (!(key in SETTINGS)) throw new ConfigError(key, `unknown setting in ${file}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const envValue = env[envName(name)];
    let raw: unknown = SETTINGS[name].default;
    if (name in fromFile) raw = fromFile[name];
    if (envValue !== undefined && envValue !== '') raw = envValue;
    if (flags[name] !== undefined) raw = flags[name];
    out[camel(name)] = raw === SETTINGS[name].default ? raw : coerce(name, SETTINGS[name], raw);
  }
  const cfg = out as unknown as NodeConfig & { config?: string };
  delete cfg.config;
  checkNames(cfg);
  // Redis: `port 0` turns plain RESP off, which leaves nothing to serve without a TLS port.
  if (cfg.port === 0 && cfg.tlsPort === 0) throw new ConfigError('port', 'must be set (0 turns plain RESP off only with --tls-port)');
  if (cfg.httpPort === 0) cfg.httpPort = (cfg.port || cfg.tlsPort) + 10000;
  if (cfg.httpPort > 65535) throw new ConfigError('http-port', 'RESP port + 10000 exceeds 65535; set --http-port');
  if (!cfg.advertiseHost) cfg.advertiseHost = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host;
  if (!cfg.advertisePort) cfg.advertisePort = cfg.port;
  if (!cfg.advertiseHttpPort) cfg.advertiseHttpPort = cfg.httpPort;
  if (!cfg.advertiseTlsPort) cfg.advertiseTlsPort = cfg.tlsPort;
  cfg.electionTicks = ticksOf(cfg, 'election-timeout', cfg.electionTimeout, cfg.electionTicks, 2);
  cfg.heartbeatTicks = ticksOf(cfg, 'heartbeat-interval', cfg.heartbeatInterval, cfg.heartbeatTicks, 1);
  cfg.electionTimeout = cfg.electionTicks * cfg.tickMs;
  cfg.heartbeatInterval = cfg.heartbeatTicks * cfg.tickMs;
  if (cfg.heartbeatTicks >= cfg.electionTicks) {
    throw new ConfigError('heartbeat-ticks', 'must be smaller than election-ticks');
  }
  if (!cfg.join && cfg.peers.length > 0 && !cfg.peers.some((p) => p.id === cfg.id)) {
    throw new ConfigError('peers', `must include this node's id '${cfg.id}' (or start with --join)`);
  }
  if (cfg.shards > 1 && cfg.followerProxy === 'yes') {
    throw new ConfigError('follower-proxy', "is not supported with --shards above 1 yet: clients follow MOVED to each shard's leader");
  }
  const outputLimits = parseOutputLimits(cfg.clientOutputBufferLimit);
  if (typeof outputLimits === 'string') throw new ConfigError('client-output-buffer-limit', outputLimits);
  const ids = new Set<string>();
  for (const p of cfg.peers) {
    if (ids.has(p.id)) throw new ConfigError('peers', `duplicate id '${p.id}'`);
    ids.add(p.id);
  }
  return cfg;
}

/**
 * The tick count a time setting stands for (`--election-timeout 1s` at `--tick-ms 50` is 20
 * ticks), or `ticks` when the time is 0 (not given). Raft counts ticks, so a time that is not a
 * whole number of them is refused rather than rounded.
 */
function ticksOf(cfg: NodeConfig, setting: SettingName, ms: number, ticks: number, min: number): number {
  if (ms === 0) return ticks;
  if (ms % cfg.tickMs !== 0) throw new ConfigError(setting, `${ms}ms is not a whole number of ticks (tick-ms is ${cfg.tickMs})`);
  const n = ms / cfg.tickMs;
  if (n < min) throw new ConfigError(setting, `must be at least ${min} tick${min > 1 ? 's' : ''} (${min * cfg.tickMs}ms at tick-ms ${cfg.tickMs})`);
  return n;
}

/** Names the node and its addresses use: caught here rather than as a stack trace at listen. */
function checkNames(cfg: NodeConfig): void {
  const idProblem = nodeIdProblem(cfg.id);
  if (idProblem) throw new ConfigError('id', `'${cfg.id}' ${idProblem}`);
  const hosts: [SettingName, string][] = [
    ['host', cfg.host],
    ['http-host', cfg.httpHost],
  ];
  if (cfg.advertiseHost) hosts.push(['advertise-host', cfg.advertiseHost]);
  for (const [setting, host] of hosts) {
    const problem = hostProblem(host);
    if (problem) throw new ConfigError(setting, `'${host}' ${problem}`);
  }
  if (cfg.dataDir === '') throw new ConfigError('data-dir', 'must not be empty');
}
