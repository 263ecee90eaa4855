/**
 * The operator commands' way to the cluster (`raftkv snapshot|status|member|leader ...`): the
 * authenticated HTTP API of whichever endpoints the operator names, as etcdctl's `--endpoints`.
 *
 * - Endpoints: `--endpoints URL,...`, else `RAFTKV_ENDPOINTS`, else the first node of the local
 *   cluster `npm start` runs (http://127.0.0.1:16379).
 * - Credential: `--token`, else `RAFTKV_HTTP_TOKEN`, else `REDISCLI_AUTH` (the password
 *   redis-cli takes from the environment), sent as a Bearer token (src/http/auth.ts). Never a
 *   flag value in examples: `ps` shows argv.
 * - TLS: `https://` endpoints are checked against `--cacert FILE` when given, else the system's
 *   roots.
 *
 * node:http rather than fetch, so a CA file and a per-request deadline need no extra package.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:16379';

/** The flags every operator command takes, for `parseArgs`. */
export const API_FLAGS = {
  endpoints: { type: 'string' },
  token: { type: 'string' },
  cacert: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

export interface ApiOptions {
  endpoints: string[];
  token?: string;
  ca?: Buffer;
  /** Per request, connect to last byte; a member that never answers must not hang the command. */
  timeoutMs: number;
}

/** A usage or connection problem the command reports in one line (exit code 2 or 1). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}

/** Options from parsed `API_FLAGS` values and the environment. */
export function apiOptions(values: { endpoints?: string; token?: string; cacert?: string; 'timeout-ms'?: string }, env = process.env): ApiOptions {
  // An empty variable counts as unset, as for the node's RAFTKV_* settings.
  const list = (values.endpoints ?? (env.RAFTKV_ENDPOINTS || DEFAULT_ENDPOINT)).split(',').map((s) => s.trim());
  const endpoints = list.filter((s) => s !== '').map(normalEndpoint);
  if (endpoints.length === 0) throw new ApiError('--endpoints names no endpoint', true);
  const timeoutMs = values['timeout-ms'] === undefined ? 5000 : Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ApiError(`--timeout-ms must be a positive integer, got '${values['timeout-ms']}'`, true);
  let ca: Buffer | undefined;
  if (values.cacert !== undefined) {
    try {
      ca = readFileSync(values.cacert);
    } catch (err) {
      throw new ApiError(`cannot read --cacert ${values.cacert}: ${(err as Error).message}`, true);
    }
  }
  const token = values.token ?? env.RAFTKV_HTTP_TOKEN ?? env.REDISCLI_AUTH;
  return { endpoints, timeoutMs, ...(token ? { token } : {}), ...(ca ? { ca } : {}) };
}

/** `host:port` means http://host:port; anything else must be an http(s) URL without a path. */
function normalEndpoint(s: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(s) ? s : `http://${s}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ApiError(`bad endpoint '${s}': expected http(s)://host:port`, true);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ApiError(`bad endpoint '${s}': only http and https`, true);
  if (url.pathname !== '/' || url.search !== '') throw new ApiError(`bad endpoint '${s}': no path or query`, true);
  return url.origin;
}

export interface ApiResponse {
  endpoint: string;
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export class ApiClient {
  constructor(readonly opts: ApiOptions) {}

  /** One request to one endpoint; the body is read whole (use `stream` for snapshots). */
  async request(endpoint: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const res = await this.open(endpoint, method, path, body);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { endpoint, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
  }

  /** The response still streaming, for bodies too large to hold (a snapshot). */
  stream(endpoint: string, path: string): Promise<IncomingMessage> {
    return this.open(endpoint, 'GET', path);
  }

  /**
   * GET `path` from the leader, still streaming (a snapshot): the endpoints in order until one
   * answers, then along the 307 redirects followers answer with, at most a few hops. The
   * answer whatever its status, with the endpoint that gave it; the caller reads or drains it.
   */
  async streamFromLeader(path: string): Promise<{ endpoint: string; res: IncomingMessage }> {
    const problems: string[] = [];
    for (const first of this.opts.endpoints) {
      let endpoint = first;
      try {
        let res = await this.stream(endpoint, path);
        for (let hops = 0; res.statusCode === 307 && res.headers.location && hops < 3; hops++) {
          const next = new URL(res.headers.location, endpoint);
          res.resume();
          endpoint = next.origin;
          res = await this.stream(endpoint, `${next.pathname}${next.search}`);
        }
        return { endpoint, res };
      } catch (err) {
        problems.push(`${endpoint}: ${(err as Error).message}`);
      }
    }
    throw new ApiError(`no endpoint answered (${problems.join('; ')})`);
  }

  /** The first endpoint, in order, that answers at all (any HTTP status), with its answer. */
  async first(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const problems: string[] = [];
    for (const e of this.opts.endpoints) {
      try {
        return await this.request(e, method, path, body);
      } catch (err) {
        problems.push(`${e}: ${(err as Error).message}`);
      }
    }
    throw new ApiError(`no endpoint answered (${problems.join('; ')})`);
  }

  /**
   * A request only the leader can take (membership, leadership): sent to the first endpoint that
   * answers, then along the 307 redirects followers answer with (src/http/errors.ts), at most
   * a few hops, since leadership may move while the request travels.
   */
  async toLeader(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    let res = await this.first(method, path, body);
    for (let hops = 0; res.status === 307 && hops < 3; hops++) {
      const location = res.headers.location;
      if (!location) break;
      const next = new URL(location, res.endpoint);
      res = await this.request(next.origin, method, `${next.pathname}${next.search}`, body).catch((err: Error) => {
        throw new ApiError(`the leader at ${next.origin} did not answer: ${err.message}`);
      });
    }
    return res;
  }

  /**
   * Every endpoint at once (the configured ones, or `endpoints`, e.g. the members one endpoint
   * lists); an unreachable one is reported in its place, not dropped (status tables).
   */
  all(method: string, path: string, endpoints = this.opts.endpoints): Promise<Array<ApiResponse | { endpoint: string; error: string }>> {
    return Promise.all(endpoints.map((e) => this.request(e, method, path).catch((err: Error) => ({ endpoint: e, error: err.message }))));
  }

  private open(endpoint: string, method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    const url = new URL(path, endpoint);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {};
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const https = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const options = { method, headers, timeout: this.opts.timeoutMs, ...(https && this.opts.ca ? { ca: this.opts.ca } : {}) };
      const req = (https ? httpsRequest : httpRequest)(url, options, resolve);
      // `timeout` is socket idleness; it also bounds a member that accepts and never answers.
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** The parsed JSON body of an answer, or an ApiError naming the endpoint and status. */
export function jsonBody<T>(res: ApiResponse): T {
  const text = res.body.toString('utf8');
  if (res.status === 401) throw new ApiError(`${res.endpoint}: 401 unauthorized (set RAFTKV_HTTP_TOKEN or REDISCLI_AUTH, or pass --token)`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(`${res.endpoint}: ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}
