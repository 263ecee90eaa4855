/**
 * The kinds of value a setting can have (config.ts's SETTINGS table gives each setting one) and
 * how a raw value is read as its kind: a flag or environment variable arrives as a string, a
 * JSON config file's value as whatever JSON holds, and each becomes its kind's type within the
 * setting's bounds or is refused with a ConfigError that names the setting. `--peers` lists
 * (and the member lists the CLI takes) are read here too.
 */
import { isIP } from 'node:net';
import { hostProblem, nodeIdProblem } from './addresses.ts';
import { parseBytes, parseDuration } from './units.ts';

/**
 * `bytes`: an integer with Redis's units (`100mb`, node/units.ts); `duration`: milliseconds,
 * with units (`500ms`, `2s`) or bare digits in ms, as these settings always took.
 */
export type Kind = 'string' | 'int' | 'bytes' | 'duration' | 'bool' | 'peers' | readonly string[];

export interface SettingSpec {
  readonly kind: Kind;
  readonly default: unknown;
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
}

export interface PeerAddress {
  id: string;
  host: string;
  port: number;
  httpPort: number;
  /** RESP over TLS port; absent (or 0) when the member serves no TLS. */
  tlsPort?: number;
}

/** A setting's value type, from its `kind`. */
export type ValueOf<K> = K extends 'string'
  ? string
  : K extends 'int' | 'bytes' | 'duration'
    ? number
    : K extends 'bool'
      ? boolean
      : K extends 'peers'
        ? PeerAddress[]
        : K extends readonly (infer U)[]
          ? U
          : never;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`invalid setting '${setting}': ${detail}`);
  }
}

/**
 * `id=host:port[:httpPort[:tlsPort]]`; httpPort defaults to port + 10000 as in Redis Cluster's
 * bus port. The RESP port may be 0 (TLS only) when a TLS port is given. An IPv6 host goes in
 * brackets (`n1=[::1]:6379`). Ids and hosts follow the rules every other member address follows
 * (addresses.ts).
 */
export function parsePeers(text: string, setting = 'peers'): PeerAddress[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const m = /^([^=]+)=(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)(?::(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) throw new ConfigError(setting, `'${part}' is not id=host:port[:http_port[:tls_port]]`);
    const [, id, v6, name, portText, httpText, tlsText] = m;
    const host = v6 ?? name;
    const idProblem = nodeIdProblem(id);
    if (idProblem) throw new ConfigError(setting, `'${part}': the id ${idProblem}`);
    const problem = hostProblem(host) ?? (v6 !== undefined && isIP(v6) !== 6 ? 'is not an IPv6 address' : undefined);
    if (problem) throw new ConfigError(setting, `'${part}': the host '${host}' ${problem}`);
    const port = Number(portText);
    const tlsPort = tlsText ? Number(tlsText) : 0;
    const httpPort = httpText ? Number(httpText) : (port || tlsPort) + 10000;
    const ok = (p: number, min: number) => p >= min && p <= 65535;
    if (!ok(port, tlsPort ? 0 : 1) || !ok(httpPort, 1) || !ok(tlsPort, 0)) {
      throw new ConfigError(setting, `'${part}' has a port outside 1-65535`);
    }
    return tlsPort ? { id, host, port, httpPort, tlsPort } : { id, host, port, httpPort };
  });
}

/**
 * A raw value (a flag's or env var's string, or what the JSON config file holds) read as the
 * setting `name` of spec `spec`: its kind's type, within its bounds, or a ConfigError.
 */
export function coerce(name: string, spec: SettingSpec, raw: unknown): unknown {
  const kind = spec.kind;
  if (kind === 'string') {
    if (typeof raw !== 'string') throw new ConfigError(name, 'expected a string');
    return raw;
  }
  if (kind === 'int') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw new ConfigError(name, `expected an integer, got '${String(raw)}'`);
    if (spec.min !== undefined && n < spec.min) throw new ConfigError(name, `must be >= ${spec.min}`);
    if (spec.max !== undefined && n > spec.max) throw new ConfigError(name, `must be <= ${spec.max}`);
    if ((name.endsWith('port') || name === 'port') && n > 65535) throw new ConfigError(name, 'must be <= 65535');
    return n;
  }
  if (kind === 'bytes' || kind === 'duration') {
    const n = typeof raw === 'number' ? raw : typeof raw !== 'string' ? null : kind === 'bytes' ? parseBytes(raw.trim()) : parseDuration(raw);
    if (n === null || !Number.isSafeInteger(n)) {
      const expected = kind === 'bytes' ? 'a byte size (1048576, 512kb, 100mb, 2gb)' : 'a duration (500ms, 2s, or milliseconds)';
      throw new ConfigError(name, `expected ${expected}, got '${String(raw)}'`);
    }
    if (spec.min !== undefined && n < spec.min) throw new ConfigError(name, `must be >= ${spec.min}`);
    return n;
  }
  if (kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1' || raw === 'yes') return true;
    if (raw === 'false' || raw === '0' || raw === 'no') return false;
    throw new ConfigError(name, `expected true or false, got '${String(raw)}'`);
  }
  if (kind === 'peers') {
    if (Array.isArray(raw)) return raw.map((p) => parsePeers(String(p), name)[0]);
    if (typeof raw !== 'string') throw new ConfigError(name, 'expected id=host:port,...');
    return parsePeers(raw, name);
  }
  if (typeof raw !== 'string' || !kind.includes(raw)) {
    throw new ConfigError(name, `expected one of ${kind.join(', ')}, got '${String(raw)}'`);
  }
  return raw;
}
