// The image's HEALTHCHECK: healthy means /readyz answers 200 (a leader is known and this node
// has applied everything it knows to be committed). It reads the same RAFTKV_* variables as the
// node, so it follows a container configured with a different HTTP port.
const env = process.env;
const port = Number(env.RAFTKV_HTTP_PORT) || Number(env.RAFTKV_PORT || 6379) + 10000;
const host = !env.RAFTKV_HTTP_HOST || env.RAFTKV_HTTP_HOST === '0.0.0.0' || env.RAFTKV_HTTP_HOST === '::' ? '127.0.0.1' : env.RAFTKV_HTTP_HOST;
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/readyz`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  const body = await res.text();
  if (!res.ok) process.stderr.write(`${url}: ${res.status} ${body}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`${url}: ${err.message}\n`);
  process.exit(1);
}
