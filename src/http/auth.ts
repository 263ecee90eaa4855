/**
 * HTTP authentication and protected mode: one fastify onRequest hook in front of every route.
 * It runs before the body is parsed, so a stranger's body is never read into memory.
 *
 * - While a credential is configured (`http-token`, else `requirepass`), every route but the
 *   open ones needs `Authorization: Bearer <credential>`, or Basic `default:<credential>` (so
 *   `curl -u default:pw` works). Anything else answers 401 with a WWW-Authenticate challenge.
 * - While none is, protected mode refuses clients that are not on loopback with 403 and the
 *   same advice RESP's -DENIED gives (node/access.ts).
 * - Open: /healthz and /readyz (probes; they reveal no keys), /metrics with `metrics-public`,
 *   and the peer WebSocket route, whose handshake authenticates peers with the cluster secret.
 *
 * The settings are read per request: CONFIG SET requirepass applies to the next request.
 * Nothing here depends on the transport, so the hook serves HTTP and HTTPS alike.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ACCESS_TEXTS, type AccessConfig, httpCredential, httpRefuses, secretMatches } from '../node/access.ts';
import type { NodeConfig } from '../node/config.ts';
import { PEER_PATH } from '../transport/socket.ts';

export type HttpAuthConfig = AccessConfig & Pick<NodeConfig, 'metricsPublic'>;

/** What the hook needs from the node: its live settings. */
export interface HttpAuthHost {
  readonly cfg: HttpAuthConfig;
}

/** Routes (as registered, so `/healthz?x` matches and `/healthz/../v1/kv/a` does not) anyone may call. */
const OPEN_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', PEER_PATH]);

export const WWW_AUTHENTICATE = 'Bearer realm="raftkv", Basic realm="raftkv"';

/**
 * The secret an Authorization header presents: a Bearer token, or the password of Basic user
 * `default`. Header values reach Node as latin1, so the bytes are taken back as they came.
 * `null`: no header; `undefined`: a header that presents nothing usable (another scheme or user).
 */
export function presentedSecret(header: string | undefined): Buffer | null | undefined {
  if (header === undefined || header === '') return null;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return Buffer.from(value, 'latin1');
  if (scheme !== 'basic') return undefined;
  const pair = Buffer.from(value, 'base64');
  const colon = pair.indexOf(0x3a);
  if (colon < 0 || pair.subarray(0, colon).toString('latin1') !== 'default') return undefined;
  return pair.subarray(colon + 1);
}

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(401).header('www-authenticate', WWW_AUTHENTICATE).send({ error: 'unauthorized', message });
}

/** Registers the hook; call before any route is added. */
export function registerAuth(app: FastifyInstance, host: HttpAuthHost): void {
  app.addHook('onRequest', async (req, reply) => {
    const cfg = host.cfg;
    const route = req.routeOptions.url;
    if (route !== undefined && (OPEN_ROUTES.has(route) || (route === '/metrics' && cfg.metricsPublic))) return;
    const credential = httpCredential(cfg);
    if (credential === '') {
      if (httpRefuses(cfg, req.socket.remoteAddress)) return reply.code(403).send({ error: 'denied', message: ACCESS_TEXTS.DENIED });
      return;
    }
    const given = presentedSecret(req.headers.authorization);
    if (given === null) return unauthorized(reply, ACCESS_TEXTS.HTTP_AUTH_MISSING);
    if (given === undefined || !secretMatches(given, credential)) return unauthorized(reply, ACCESS_TEXTS.HTTP_AUTH_INVALID);
  });
}
