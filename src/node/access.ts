/**
 * Who may talk to a node, decided once for both front ends (RESP and HTTP): the secret
 * comparison, protected mode, and the texts they answer with. Keeping them here means the two
 * ports cannot drift apart: the same password opens both, and protected mode refuses the same
 * clients with the same advice.
 *
 * Settings are read from `cfg` at the moment of each decision, never cached: CONFIG SET
 * requirepass (replicated through the log) changes `cfg.requirepass` on every node, and the next
 * connection or request must see it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { NodeConfig } from './config.ts';

/** The settings this file reads. */
export type AccessConfig = Pick<NodeConfig, 'requirepass' | 'httpToken' | 'protectedMode' | 'host' | 'httpHost' | 'port' | 'httpPort'>;

/**
 * The texts of access decisions. RESP sends DENIED as `-DENIED <text>\r\n` (Redis's code, so
 * clients that match on it still do); HTTP sends the same text as a 403's message. The advice is
 * Redis's (networking.c, clientAcceptHandler), shape and order kept, with RaftKV's settings.
 * The HTTP_AUTH texts are the messages of a 401.
 */
export const ACCESS_TEXTS = {
  HTTP_AUTH_MISSING: 'authentication required: send Authorization: Bearer <token>, or Basic with user default and the password',
  HTTP_AUTH_INVALID: 'invalid credentials',
  DENIED:
    'RaftKV is running in protected mode because protected mode is enabled and no password is set for the default user. ' +
    'In this mode connections are only accepted from the loopback interface. ' +
    'If you want to connect from external computers to RaftKV you may adopt one of the following solutions: ' +
    "1) Set a password for the default user: restart the nodes with '--requirepass <password>' (RAFTKV_REQUIREPASS), " +
    "or send 'CONFIG SET requirepass <password>' from the loopback interface; clients then AUTH with it, and HTTP clients " +
    "send 'Authorization: Bearer <password>'. " +
    "2) If you started the server manually just for testing, restart it with the '--protected-mode no' option " +
    '(RAFTKV_PROTECTED_MODE=no), however MAKE SURE RaftKV is not publicly accessible from internet if you do so. ' +
    'NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.',
} as const;

const digest = (secret: Buffer | string): Buffer => createHash('sha256').update(secret).digest();

/**
 * Whether `given` is the secret `expected`, in time that depends on neither: both are hashed
 * first, so `timingSafeEqual` compares two 32-byte digests and the lengths do not leak either.
 * An empty `expected` matches nothing (no secret configured is not a secret of "").
 */
export function secretMatches(given: Buffer | string, expected: string): boolean {
  if (expected === '') return false;
  return timingSafeEqual(digest(given), digest(Buffer.from(expected, 'utf8')));
}

/**
 * A client address on the loopback interface: 127.0.0.0/8, ::1, or an IPv4-mapped 127.x
 * (what a dual-stack listener on :: reports for an IPv4 loopback client). Anything else,
 * including an unknown address (a socket already closed), is not.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  let a = address.toLowerCase();
  if (a.startsWith('::ffff:') && isIPv4(a.slice(7))) a = a.slice(7);
  if (isIPv4(a)) return a.startsWith('127.');
  return isIPv6(a) && (a === '::1' || a === '0:0:0:0:0:0:0:1');
}

/**
 * A host (bind address, advertised or peer address) that only this machine reaches: a loopback
 * literal (IPv6 possibly in brackets), `localhost` or a `*.localhost` name (RFC 6761).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h.endsWith('.localhost') || isLoopbackAddress(h);
}

/** The credential HTTP clients must present: `http-token` if set, else the password; '' for none. */
export function httpCredential(cfg: AccessConfig): string {
  return cfg.httpToken !== '' ? cfg.httpToken : cfg.requirepass;
}

/**
 * Whether protected mode refuses a RESP client from `address`: it is on, no password is set,
 * and the client is not on loopback (Redis 7.0 refuses whatever the bind address).
 */
export function respRefuses(cfg: AccessConfig, address: string | undefined): boolean {
  return cfg.protectedMode === 'yes' && cfg.requirepass === '' && !isLoopbackAddress(address);
}

/** The same for HTTP, where a separate `http-token` is a password too. */
export function httpRefuses(cfg: AccessConfig, address: string | undefined): boolean {
  return cfg.protectedMode === 'yes' && httpCredential(cfg) === '' && !isLoopbackAddress(address);
}

/**
 * The one line a node logs at start when a port is bound off loopback with nothing protecting
 * it (RESP without requirepass; HTTP without requirepass or http-token); undefined otherwise.
 */
export function exposureWarning(cfg: AccessConfig): string | undefined {
  const open: string[] = [];
  if (!isLoopbackHost(cfg.host) && cfg.requirepass === '') open.push(`RESP on ${cfg.host}:${cfg.port}`);
  if (!isLoopbackHost(cfg.httpHost) && httpCredential(cfg) === '') open.push(`HTTP on ${cfg.httpHost}:${cfg.httpPort}`);
  if (open.length === 0) return undefined;
  const where = open.join(' and ');
  if (cfg.protectedMode === 'yes') {
    return `${where} bound to a non-loopback address with no password: protected mode refuses every client that is not on loopback (RESP answers -DENIED, HTTP 403; /healthz, /readyz and peer links stay open); set --requirepass to let them in`;
  }
  return `${where} bound to a non-loopback address with no password and protected mode off: anyone who reaches it can read and write every key and change the membership; set --requirepass`;
}
