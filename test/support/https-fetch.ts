/**
 * `fetch` for HTTPS endpoints with a private CA and a client certificate: Node 20's global
 * fetch cannot be given either. Answers a standard `Response`, never follows redirects (as
 * `redirect: 'manual'`), and honours `signal`.
 */
import { request } from 'node:https';

export interface ClientTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function httpsFetch(tls: ClientTls, url: string, init: RequestInit = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const req = request(url, { method: init.method ?? 'GET', headers, ...tls, signal: init.signal ?? undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        const status = res.statusCode ?? 0;
        const noBody = status === 204 || status === 304;
        resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers: h }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
