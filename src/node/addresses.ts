/**
 * The rules for what names a node: its id, a host and a port. One set of rules serves every
 * door an address comes in by (flags and environment, the admin API, conf changes in the log,
 * the address book in a snapshot), so that whatever passes at one door passes at the others,
 * and a URL built from an address that passed cannot throw.
 */
import { isIP } from 'node:net';

/** Ids travel in conf changes, peer handshakes, URLs and log lines: keep them short and plain. */
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** An RFC 1123 label: letters, digits and inner hyphens, at most 63 characters. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const MAX_HOST = 253;

/** Why `id` cannot name a node, or undefined if it can. */
export function nodeIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return 'must be a string';
  if (!NODE_ID.test(id)) return 'must be 1-64 characters of A-Z, a-z, 0-9, _, . and -';
  return undefined;
}

/**
 * Why `host` is neither an IPv4/IPv6 literal nor a DNS hostname, or undefined if it is one.
 * A name whose last label is all digits is a mistyped IPv4 address (256.1.1.1), not a name:
 * no top-level domain is numeric (RFC 3696 2).
 */
export function hostProblem(host: unknown): string | undefined {
  if (typeof host !== 'string') return 'must be a string';
  if (host.length === 0) return 'must not be empty';
  if (host.length > MAX_HOST) return `must be at most ${MAX_HOST} characters`;
  // A zone id (fe80::1%eth0) names an interface of one machine, and WHATWG URLs refuse it.
  if (isIP(host) === 6 && host.includes('%')) return 'must not carry an IPv6 zone id';
  if (isIP(host) !== 0) return undefined;
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  if (!labels.every((l) => LABEL.test(l))) return 'must be an IP address or a hostname (letters, digits, hyphens and dots)';
  if (/^\d+$/.test(labels[labels.length - 1])) return 'is not a valid IPv4 address';
  return undefined;
}

/** Why `port` is not a TCP port a peer or client can reach, or undefined if it is one. */
export function portProblem(port: unknown): string | undefined {
  if (typeof port !== 'number' || !Number.isInteger(port)) return 'must be an integer';
  if (port < 1 || port > 65535) return 'must be in 1-65535';
  return undefined;
}

/** `host:port`, with an IPv6 literal in brackets so that the result parses as a URL authority. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
