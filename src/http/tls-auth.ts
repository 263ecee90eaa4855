/**
 * Client-certificate checks on the HTTPS port. The TLS layer requests a certificate but lets a
 * connection without one through (`rejectUnauthorized: false`), because the API and the peer
 * route share the port and may demand different things (tls-config.ts): this hook, run before
 * any route and before a WebSocket upgrade, answers 401 when the route's CA did not vouch for
 * the client. It is independent of the password check, which runs after it.
 */

import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { type CaSet, chainsTo, type NodeTls } from '../node/tls-config.ts';
import { PEER_PATH } from '../transport/socket.ts';
import { HttpError } from './errors.ts';

/** Remote addresses already warned about, so a refused peer that keeps redialling logs once. */
const MAX_WARNED = 1024;

export function registerClientCertChecks(app: FastifyInstance, tls: NodeTls): void {
  const { peerClientCa, apiClientCa } = tls;
  if (!peerClientCa && !apiClientCa) return;
  const warned = new Set<string>();
  app.addHook('onRequest', async (req) => {
    const peer = req.routeOptions.url === PEER_PATH;
    const cas: CaSet | undefined = peer ? peerClientCa : apiClientCa;
    if (cas === undefined || chainsTo(req.raw.socket as TLSSocket, cas)) return;
    const setting = peer ? 'peer-trusted-ca-file' : 'http-trusted-ca-file';
    if (peer && !warned.has(req.ip)) {
      if (warned.size >= MAX_WARNED) warned.clear();
      warned.add(req.ip);
      req.log.warn({ remote: req.ip }, `peer link refused: no client certificate from ${setting}`);
    }
    throw new HttpError(401, 'client_certificate_required', `a client certificate issued by a CA in ${setting} is required`);
  });
}
