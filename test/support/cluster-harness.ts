/**
 * Real RaftKV node processes on loopback for integration tests: free ports, temporary data
 * directories, kill -9, SIGTERM, restart from the same data directory, and HTTP helpers.
 * With `tls` (certs.ts), every port is TLS: RESP on `tlsPort` only, HTTPS, wss:// peers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, type WriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_FLAGS, nodeEnv } from '../../src/cli/runtime.ts';
import type { TestCerts } from './certs.ts';
import { httpsFetch } from './https-fetch.ts';
import { PeerProxy } from './peer-proxy.ts';
import { raftkvArgs } from './raftkv-build.ts';

/**
 * A port that is free now, picked below Linux's ephemeral range (32768+): a port the kernel
 * hands out there could be taken by any outgoing connection (a peer link, a client) between
 * this check and the node binding it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await isFree(port)) return port;
  }
  throw new Error('no free port found in 20000-31999');
}

/**
 * An IPv4 address of this machine that is not loopback, or undefined. A client that connects to
 * it (from it, as the kernel picks the local address as the source) is what a node bound to
 * 0.0.0.0 sees as a remote client, while the packets never leave the machine.
 */
export function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
    }
  }
  return undefined;
}

/**
 * A base port B such that B + each of `offsets` is free now (for `raftkv cluster --base-port`,
 * which takes B..B+n-1 for RESP and B+10000.. for HTTP). Bases stay below 22000 so the HTTP
 * ports stay below Linux's ephemeral range too.
 */
export async function freeBasePort(offsets: number[]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 2000);
    let free = 0;
    while (free < offsets.length && (await isFree(base + offsets[free]))) free++;
    if (free === offsets.length) return base;
  }
  throw new Error('no free base port found in 20000-21999');
}

function isFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface NodeHandle {
  id: string;
  /** Plain RESP; 0 when the harness runs with `tls` (unless `plainToo`). */
  port: number;
  /** RESP over TLS, with `tls`; else 0. */
  tlsPort: number;
  httpPort: number;
  dataDir: string;
  proc?: ChildProcess;
  logFile: string;
  exitCode?: number | null;
  /** With `peerProxies`: the relay every peer dials instead of `httpPort`. */
  proxy?: PeerProxy;
  proxyPort?: number;
}

export interface ClusterStatus {
  id: string;
  /** The cluster this node's data belongs to (node/cluster-id.ts); null while joining. */
  cluster_id: string | null;
  role: string;
  term: number;
  leader: string | null;
  commit: number;
  applied: number;
  last_index: number;
  snapshot_index: number;
  /** Entry bytes of the retained log (after the snapshot). */
  log_bytes?: number;
  /** Those of its entries whose data is in memory, and their bytes (memory-log.ts trim). */
  log_memory_entries?: number;
  log_memory_bytes?: number;
  voters: string[];
  learners: string[];
}

export interface HarnessOptions {
  nodes?: number;
  /**
   * A compiled entry point (e.g. the benchmark's build of src/cli/main.ts) to run with plain
   * node instead of the TypeScript sources through tsx.
   */
  main?: string;
  extraArgs?: string[];
  /** More flags for one node, by id, after extraArgs (the last of a repeated flag wins). */
  nodeArgs?: Record<string, string[]>;
  tickMs?: number;
  /** The nodes' HTTP credential (requirepass or http-token): sent as a Bearer token by the helpers. */
  httpToken?: string;
  /** The address the nodes reach each other at (default 127.0.0.1); bind them to it too. */
  peerHost?: string;
  /**
   * Run every node on TLS only: `--port 0 --tls-port`, peer TLS (so HTTPS and wss://) with
   * node certificates named after the node ids, all from this CA. The harness's own HTTP
   * helpers then speak HTTPS with the client certificate.
   */
  tls?: TestCerts;
  /** With `tls`, keep plain RESP on `port` too (both ports in every member record). */
  plainToo?: boolean;
  /**
   * Runs once ports and data paths are allocated, before any node starts, with the `--peers`
   * value the nodes get (e.g. to restore a backup into their data folders).
   */
  prepare?: (nodes: NodeHandle[], peers: string) => Promise<void>;
  /** Where the nodes' data directories go (default: the harness's own temporary folder, with the logs). */
  dataRoot?: string;
  /** Peers reach each node through a PeerProxy (peer-proxy.ts), so a test can `deafen` it. */
  peerProxies?: boolean;
  /** `--shards N` on every node: a multi-group cluster (helpers in shards.ts). */
  shards?: number;
}

export class ClusterHarness {
  readonly root = mkdtempSync(join(tmpdir(), 'raftkv-it-'));
  /** The cluster's peer secret, generated per harness and given to nodes by file, as `raftkv cluster` does. */
  readonly secret = randomBytes(24).toString('hex');
  readonly secretFile = join(this.root, 'cluster-secret');
  readonly nodes: NodeHandle[] = [];
  private logs: WriteStream[] = [];
  extraArgs: string[];
  /** Sent as `Authorization: Bearer` by the HTTP helpers; starts as opts.httpToken, tests change it after CONFIG SET requirepass. */
  httpToken: string;
  private peersArg = '';

  constructor(private readonly opts: HarnessOptions = {}) {
    this.extraArgs = opts.extraArgs ?? [];
    this.httpToken = opts.httpToken ?? '';
    writeFileSync(this.secretFile, `${this.secret}\n`, { mode: 0o600 });
  }

  /**
   * Allocates ports and starts every node. A port is free when picked but bound a moment later,
   * and a test file running in parallel can take it in between; the node then exits 2 naming
   * the port (cli/preflight.ts). That is the harness's race, not the node's fault: start over on
   * fresh ports and fresh data directories, up to three times.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const n = this.opts.nodes ?? 3;
      // Same ids (tests and certificates name nodes by id), new data and log paths.
      for (let i = 1; i <= n; i++) this.nodes.push(await this.allocate(`n${i}`, attempt === 1 ? '' : `-try${attempt}`));
      if (this.opts.peerProxies) {
        for (const h of this.nodes) {
          h.proxyPort = await freePort();
          h.proxy = await PeerProxy.open(h.proxyPort, h.httpPort);
        }
      }
      this.listPeers();
      await this.opts.prepare?.(this.nodes, this.peersArg);
      for (const h of this.nodes) this.spawn(h);
      try {
        await Promise.all(this.nodes.map((h) => this.waitHttp(h)));
        return;
      } catch (err) {
        const portTaken = this.nodes.some((h) => h.exitCode === 2 && readFileSync(h.logFile, 'utf8').includes('is already in use'));
        if (!portTaken || attempt >= 3) throw err;
        await Promise.all(this.nodes.map((h) => this.kill9(h)));
        await Promise.all(this.nodes.map((h) => h.proxy?.close()));
        this.nodes.length = 0;
      }
    }
  }

  /** --peers from every node the harness holds (what spawn passes). */
  private listPeers(): void {
    const host = this.opts.peerHost ?? '127.0.0.1';
    this.peersArg = this.nodes.map((h) => `${h.id}=${host}:${h.port}:${h.proxyPort ?? h.httpPort}${h.tlsPort ? `:${h.tlsPort}` : ''}`).join(',');
  }

  /**
   * Allocates `count` more nodes (n4, n5, ... after three) and makes --peers list all of them,
   * as `raftkv cluster --nodes 5` does over a folder that held 3 nodes; starts nothing.
   */
  async addNodes(count: number): Promise<NodeHandle[]> {
    const added: NodeHandle[] = [];
    for (let i = 0; i < count; i++) added.push(await this.allocate(`n${this.nodes.length + added.length + 1}`));
    this.nodes.push(...added);
    this.listPeers();
    return added;
  }

  async allocate(id: string, pathSuffix = ''): Promise<NodeHandle> {
    const port = this.opts.tls && !this.opts.plainToo ? 0 : await freePort();
    const tlsPort = this.opts.tls ? await freePort() : 0;
    const httpPort = await freePort();
    const name = `${id}${pathSuffix}`;
    return { id, port, tlsPort, httpPort, dataDir: join(this.opts.dataRoot ?? this.root, name), logFile: join(this.root, `${name}.log`) };
  }

  /** The TLS flags of node `h` (nothing without `tls`). */
  tlsArgs(h: NodeHandle): string[] {
    const certs = this.opts.tls;
    if (!certs) return [];
    const own = certs.node(h.id);
    return [
      '--tls-port',
      String(h.tlsPort),
      '--tls-cert-file',
      own.cert,
      '--tls-key-file',
      own.key,
      '--tls-ca-cert-file',
      certs.ca,
      '--peer-cert-file',
      own.cert,
      '--peer-key-file',
      own.key,
      '--peer-trusted-ca-file',
      certs.ca,
    ];
  }

  /** fetch, over HTTPS with the test CA and client certificate when the harness runs with `tls`. */
  /** fetch with the nodes' credential, over HTTPS with the client certificate when `tls` is on. */
  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    init = { ...init, headers: { ...this.authHeaders(), ...(init.headers as Record<string, string> | undefined) } };
    const certs = this.opts.tls;
    if (!certs) return fetch(url, init);
    return httpsFetch({ ca: certs.pem(certs.ca), cert: certs.pem(certs.client.cert), key: certs.pem(certs.client.key) }, url, init);
  }

  node(id: string): NodeHandle {
    const h = this.nodes.find((x) => x.id === id);
    if (!h) throw new Error(`no node ${id}`);
    return h;
  }

  spawn(h: NodeHandle, opts: { join?: boolean; args?: string[] } = {}): void {
    const args = [
      ...NODE_FLAGS,
      ...raftkvArgs(this.opts.main),
      'start',
      '--id',
      h.id,
      '--port',
      String(h.port),
      '--http-port',
      String(h.httpPort),
      '--data-dir',
      h.dataDir,
      '--tick-ms',
      String(this.opts.tickMs ?? 50),
      '--log-level',
      'info',
      '--cluster-secret-file',
      this.secretFile,
      ...this.tlsArgs(h),
      ...(h.proxyPort ? ['--advertise-http-port', String(h.proxyPort)] : []),
      // A joining node gets the existing members' addresses, as etcd's initial-cluster-state=existing.
      ...(opts.join ? ['--join', '--peers', this.peersArg] : ['--peers', this.peersArg]),
      ...(this.opts.shards ? ['--shards', String(this.opts.shards)] : []),
      ...this.extraArgs,
      ...(this.opts.nodeArgs?.[h.id] ?? []),
      ...(opts.args ?? []),
    ];
    const out = createWriteStream(h.logFile, { flags: 'a' });
    this.logs.push(out);
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...nodeEnv(process.env), RAFTKV_LOG_PRETTY: '0' } });
    proc.stdout?.pipe(out, { end: false });
    proc.stderr?.pipe(out, { end: false });
    h.exitCode = undefined;
    proc.on('exit', (code) => {
      h.exitCode = code;
    });
    h.proc = proc;
  }

  /** The Authorization header the helpers send, when the nodes want one. */
  authHeaders(): Record<string, string> {
    if (!this.httpToken) return {};
    // fetch sends a header's characters as latin1 bytes; the node reads the token's UTF-8 bytes
    // (as curl sends them), so a non-ASCII password goes out as its UTF-8 encoding.
    return { authorization: `Bearer ${Buffer.from(this.httpToken, 'utf8').toString('latin1')}` };
  }

  url(h: NodeHandle, path: string): string {
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${h.httpPort}${path}`;
  }

  async waitHttp(h: NodeHandle, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        if (h.exitCode !== undefined) throw new Error(`${h.id} exited with ${h.exitCode}; its log ends:\n${logTail(h.logFile)}`);
        try {
          // Bounded: whatever holds the port may accept and never answer.
          return (await this.fetch(this.url(h, '/healthz'), { signal: AbortSignal.timeout(2000) })).ok;
        } catch {
          return false;
        }
      },
      timeoutMs,
      `${h.id} to serve HTTP`,
    );
  }

  async status(h: NodeHandle): Promise<ClusterStatus | undefined> {
    try {
      const r = await this.fetch(this.url(h, '/v1/cluster'), { signal: AbortSignal.timeout(2000) });
      return r.ok ? ((await r.json()) as ClusterStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until every running node has applied what `leader` had committed when called (a
   * write is acknowledged once a majority holds it; the last follower may still be saving it).
   * Returns that commit index.
   */
  async waitApplied(leader: NodeHandle, timeoutMs = 10_000): Promise<number> {
    const commit = (await this.status(leader))?.commit;
    if (commit === undefined) throw new Error(`${leader.id} does not report its commit index`);
    await waitFor(
      async () => (await Promise.all(this.running().map((h) => this.status(h)))).every((s) => s !== undefined && s.applied >= commit),
      timeoutMs,
      `every node to apply up to ${commit}`,
    );
    return commit;
  }

  running(): NodeHandle[] {
    return this.nodes.filter((h) => h.proc && h.exitCode === undefined);
  }

  /** Waits until all running nodes agree on one leader among them. */
  async waitLeader(timeoutMs = 15_000, among = this.running()): Promise<NodeHandle> {
    let leader: NodeHandle | undefined;
    await waitFor(
      async () => {
        const sts = await Promise.all(among.map((h) => this.status(h)));
        const ids = new Set(sts.map((s) => s?.leader));
        const id = sts[0]?.leader;
        if (ids.size !== 1 || !id) return false;
        leader = among.find((h) => h.id === id);
        return leader !== undefined;
      },
      timeoutMs,
      'a leader',
    );
    return leader!;
  }

  async put(h: NodeHandle, key: string, value: string, ttlMs?: number): Promise<Response> {
    return this.fetch(this.url(h, `/v1/kv/${encodeURIComponent(key)}`), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...this.authHeaders() },
      body: JSON.stringify(ttlMs ? { value, ttl_ms: ttlMs } : { value }),
      redirect: 'manual',
      signal: AbortSignal.timeout(5000),
    });
  }

  async get(h: NodeHandle, key: string): Promise<{ status: number; value?: string; ttl_ms?: number | null }> {
    const r = await this.fetch(this.url(h, `/v1/kv/${encodeURIComponent(key)}`), { signal: AbortSignal.timeout(5000) });
    if (r.status !== 200) return { status: r.status };
    const body = (await r.json()) as { value: string; ttl_ms: number | null };
    return { status: 200, value: body.value, ttl_ms: body.ttl_ms };
  }

  kill9(h: NodeHandle): Promise<void> {
    return this.signal(h, 'SIGKILL');
  }

  async signal(h: NodeHandle, sig: NodeJS.Signals): Promise<void> {
    const p = h.proc;
    if (!p || h.exitCode !== undefined) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(sig);
    await exited;
  }

  /** SIGSTOP: the process stops where it is; the kernel still accepts connections and data for it. */
  pause(h: NodeHandle): void {
    h.proc?.kill('SIGSTOP');
  }

  resume(h: NodeHandle): void {
    h.proc?.kill('SIGCONT');
  }

  async restart(h: NodeHandle): Promise<void> {
    this.spawn(h);
    await this.waitHttp(h);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((h) => this.kill9(h)));
    await Promise.all(this.nodes.map((h) => h.proxy?.close()));
    for (const l of this.logs) l.end();
    if (!process.env.RAFTKV_KEEP_TEST_DATA) rmSync(this.root, { recursive: true, force: true });
  }
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      if (await cond()) return;
    } catch (err) {
      lastErr = err;
      if (err instanceof Error && /exited with/.test(err.message)) throw err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

/** The last lines of a node's log, so a failure report says why without the (removed) file. */
function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
