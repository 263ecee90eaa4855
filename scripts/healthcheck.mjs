// The image's HEALTHCHECK: healthy means /readyz answers 200 (a leader is known and this node
// has applied everything it knows to be committed). It reads the same RAFTKV_* variables as the
// node, so it follows a container configured with a different HTTP port, or with peer TLS
// (the HTTP port is then HTTPS: the check trusts the peer CA and shows the node's own
// certificate, which a node with --http-client-cert-auth may demand).
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const env = process.env;
const port = Number(env.RAFTKV_HTTP_PORT) || (Number(env.RAFTKV_PORT ?? 6379) || Number(env.RAFTKV_TLS_PORT)) + 10000;
const host = !env.RAFTKV_HTTP_HOST || env.RAFTKV_HTTP_HOST === '0.0.0.0' || env.RAFTKV_HTTP_HOST === '::' ? '127.0.0.1' : env.RAFTKV_HTTP_HOST;
const secure = Boolean(env.RAFTKV_PEER_CERT_FILE);
const url = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/readyz`;

/** GET over HTTPS with the node's CA and certificate (fetch takes neither). */
function getTls() {
  const tls = {
    ca: readFileSync(env.RAFTKV_PEER_TRUSTED_CA_FILE),
    cert: readFileSync(env.RAFTKV_HTTP_CERT_FILE || env.RAFTKV_PEER_CERT_FILE),
    key: readFileSync(env.RAFTKV_HTTP_KEY_FILE || env.RAFTKV_PEER_KEY_FILE),
  };
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, signal: AbortSignal.timeout(2000) }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, text: async () => body }));
    });
    req.on('error', reject);
    req.end();
  });
}

try {
  const res = secure ? await getTls() : await fetch(url, { signal: AbortSignal.timeout(2000) });
  const body = await res.text();
  if (!res.ok) process.stderr.write(`${url}: ${res.status} ${body}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`${url}: ${err.message}\n`);
  process.exit(1);
}
