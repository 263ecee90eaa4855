/**
 * Loopback harness for the transport tests: real fastify instances with the peer route on
 * ephemeral ports, a log capture, and a raw `ws` client that can speak (or abuse) the protocol.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { clientProof, decodeServerHello, encodeClientHello, newNonce } from '../../src/transport/handshake.ts';
import { PEER_PATH, Transport, type TransportOptions } from '../../src/transport/index.ts';

export const CLUSTER = 'test-cluster';
export const SECRET = 'test-secret-0123456789';

export interface LogLine {
  level: number;
  msg: string;
  code?: number;
  reason?: string;
  peer?: string;
  [k: string]: unknown;
}

export interface TestNode {
  id: NodeId;
  app: FastifyInstance;
  transport: Transport;
  port: number;
  url: string;
  received: Message[];
  logs: LogLine[];
  unreachable: NodeId[];
  snapshotStatus: [NodeId, boolean][];
  stop(): Promise<void>;
}

export function captureLogger(logs: LogLine[]) {
  return pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
}

export async function startNode(id: NodeId, opts: Partial<TransportOptions> & { port?: number } = {}): Promise<TestNode> {
  const logs: LogLine[] = [];
  const received: Message[] = [];
  const { port: wantedPort, ...rest } = opts;
  const transport = new Transport({
    nodeId: id,
    clusterId: CLUSTER,
    secret: SECRET,
    logger: captureLogger(logs),
    onMessage: (m) => received.push(m),
    backoff: { minMs: 20, maxMs: 200 },
    ...rest,
  });
  const unreachable: NodeId[] = [];
  const snapshotStatus: [NodeId, boolean][] = [];
  transport.onUnreachable = (peer) => unreachable.push(peer);
  transport.onSnapshotStatus = (peer, ok) => snapshotStatus.push([peer, ok]);
  const app = Fastify();
  await transport.registerRoutes(app);
  await app.listen({ host: '127.0.0.1', port: wantedPort ?? 0 });
  const port = (app.server.address() as AddressInfo).port;
  return {
    id,
    app,
    transport,
    port,
    url: `ws://127.0.0.1:${port}${PEER_PATH}`,
    received,
    logs,
    unreachable,
    snapshotStatus,
    async stop() {
      await transport.close();
      await app.close();
    },
  };
}

/** Makes every node a peer of every other. */
export function connectAll(nodes: TestNode[]): void {
  for (const n of nodes) n.transport.setPeers(nodes.map((p) => ({ id: p.id, url: p.url })));
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function connected(from: TestNode, to: NodeId): boolean {
  return from.transport.stats()[to]?.state === 'connected';
}

export function logged(node: TestNode, msg: string, match: Partial<LogLine> = {}): LogLine | undefined {
  return node.logs.find((l) => l.msg === msg && Object.entries(match).every(([k, v]) => l[k] === v));
}

/** A raw client: the close it got, the frames it got, and helpers to speak the protocol. */
export interface RawClient {
  ws: WebSocket;
  frames: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
  /** Completes the client half of the handshake as `nodeId`, then waits for the welcome. */
  authenticate(nodeId: NodeId, opts?: { clusterId?: string; secret?: string }): Promise<void>;
}

/**
 * Opens a raw peer connection and waits for the server hello. `localAddress` picks the source
 * address (any of 127.0.0.0/8 works on Linux), for the per-address limits.
 */
export async function rawClient(url: string, opts: { localAddress?: string } = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: opts.localAddress });
  const frames: Buffer[] = [];
  ws.on('message', (data) => frames.push(data as Buffer));
  let isClosed = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      isClosed = true;
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await waitFor(() => frames.length >= 1, 'server hello');
  return {
    ws,
    frames,
    closed,
    async authenticate(nodeId, opts = {}) {
      const { nonce } = decodeServerHello(frames[0]);
      const clusterId = opts.clusterId ?? CLUSTER;
      const proof = clientProof(opts.secret ?? SECRET, nonce, clusterId, nodeId);
      ws.send(encodeClientHello({ clusterId, nodeId, nonce: newNonce(), proof }));
      await waitFor(() => frames.length >= 2 || isClosed, 'welcome or close');
    },
  };
}

/** The HTTP status with which the server refused to upgrade a peer connection (0: it upgraded). */
export function upgradeRefusal(url: string, opts: { localAddress?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: opts.localAddress });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? -1);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(0);
      ws.terminate();
    });
    ws.on('error', (err) => reject(err));
  });
}

/**
 * For a test file: `node()` starts a node that is stopped after each test, and `cleanup` takes
 * any other teardown (servers, raw sockets), run in reverse order after each test.
 */
export function stoppedAfterEach(): {
  cleanup: (() => Promise<void>)[];
  node: (id: string, opts?: Parameters<typeof startNode>[1]) => Promise<TestNode>;
} {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });
  const node = async (id: string, opts: Parameters<typeof startNode>[1] = {}) => {
    const n = await startNode(id, opts);
    cleanup.push(() => n.stop());
    return n;
  };
  return { cleanup, node };
}
