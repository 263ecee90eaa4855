/**
 * The peer target: WebSocket connections to the node's `/raft/v1`, carrying peer.ts sessions.
 *
 * The run has two phases. The first half of the iterations are unauthenticated sessions: an
 * outsider, who must get nothing (no crash, no memory, no stall). The second half completes
 * the handshake with the cluster secret as `fuzz-peer`, a learner the run adds to the cluster
 * before it starts (so it is a member however strictly the node checks peer ids), and sends
 * Raft traffic as that member. A member may call elections and is counted in quorums by
 * design, so stalls in that phase are reported apart (`member stalls`); crashes and RSS count
 * in both phases.
 */
import WebSocket from 'ws';
import { clientProof, decodeServerHello, decodeWelcome, encodeClientHello, newNonce } from '../../src/transport/handshake.ts';
import { PEER_PATH } from '../../src/transport/socket.ts';
import { freePort } from '../../test/support/cluster-harness.ts';
import { type PeerIdentity, type PeerSession, peerSession } from './peer.ts';
import type { Rng } from './rng.ts';
import type { Counters, NodeInfo, Target } from './target.ts';

export const FUZZ_PEER_ID = 'fuzz-peer';

const IDLE_MS = 25;
const STEP_TIMEOUT_MS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class PeerTarget implements Target<PeerSession> {
  private node: NodeInfo | undefined;
  private id: PeerIdentity = { clusterId: '', nodeId: 'n1', peerId: FUZZ_PEER_ID };
  private readonly authFrom: number;
  /** Sessions that tried to authenticate, and those the node welcomed. */
  authAttempts = 0;
  authenticated = 0;
  /** When the first authenticated session was generated (the member phase began). */
  private memberPhaseSince = Number.POSITIVE_INFINITY;

  constructor(iterations: number) {
    this.authFrom = Math.floor(iterations / 2);
  }

  async prepare(node: NodeInfo): Promise<void> {
    this.node = node;
    this.id = { clusterId: node.clusterId, nodeId: node.nodeId, peerId: FUZZ_PEER_ID };
    // A learner at an address where nothing listens: the node knows the id, and nothing
    // answers its links to it but the fuzzer's inbound connections.
    const base = `http://127.0.0.1:${node.httpPort}`;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(node.password ? { authorization: `Bearer ${node.password}` } : {}) };
    const body = JSON.stringify({ id: FUZZ_PEER_ID, host: '127.0.0.1', port: await freePort(), http_port: await freePort() });
    const res = await fetch(`${base}/v1/cluster/members`, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`adding the learner ${FUZZ_PEER_ID} answered ${res.status}: ${await res.text()}`);
  }

  generate(rng: Rng, first: number, maxFrames: number): PeerSession {
    const s = peerSession(rng, this.id, first, maxFrames, this.authFrom);
    if (s.authenticate && this.memberPhaseSince === Number.POSITIVE_INFINITY) this.memberPhaseSince = Date.now();
    return s;
  }

  countsStall(startedAt: number): boolean {
    return startedAt < this.memberPhaseSince;
  }

  bytesOf(s: PeerSession): Buffer[] {
    return s.messages.map((m) => m.data);
  }

  async send(s: PeerSession, counters: Counters, onClosed: () => void): Promise<void> {
    try {
      await this.session(s, counters);
    } finally {
      onClosed();
    }
  }

  private async session(s: PeerSession, counters: Counters): Promise<void> {
    const node = this.node!;
    const ws = new WebSocket(`ws://127.0.0.1:${node.httpPort}${PEER_PATH}`, { perMessageDeflate: false, maxPayload: 64 << 20 });
    let closed = false;
    let endedByUs = false;
    let lastActivity = Date.now();
    const inbox: Buffer[] = [];
    const closedP = new Promise<void>((resolve) => {
      ws.once('close', () => {
        closed = true;
        if (!endedByUs) counters.serverClosed++;
        resolve();
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      counters.replyBytes += data.length;
      lastActivity = Date.now();
      inbox.push(data);
    });
    const opened = await Promise.race([
      new Promise<boolean>((r) => ws.once('open', () => r(true))),
      closedP.then(() => false),
      sleep(STEP_TIMEOUT_MS).then(() => false),
    ]);
    if (!opened) {
      ws.terminate();
      return;
    }
    const next = async (): Promise<Buffer | undefined> => {
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      while (inbox.length === 0 && !closed && Date.now() < deadline) await sleep(2);
      return inbox.shift();
    };
    if (!s.early || s.authenticate) {
      const hello = await next();
      if (hello && s.authenticate) {
        const serverNonce = decodeServerHello(hello).nonce;
        const { clusterId, peerId } = this.id;
        ws.send(encodeClientHello({ clusterId, nodeId: peerId, nonce: newNonce(), proof: clientProof(node.clusterSecret, serverNonce, clusterId, peerId) }));
        // The Welcome, or a close that says why the node refused us.
        this.authAttempts++;
        const welcome = await next();
        if (welcome === undefined) {
          await closedP;
          return;
        }
        decodeWelcome(welcome);
        this.authenticated++;
      }
    }
    for (const m of s.messages) {
      if (closed) break;
      await this.sendFrame(ws, m.data, m.text, m.fragments);
      lastActivity = Date.now();
    }
    if (s.end === 'wait') {
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      while (!closed && Date.now() < deadline && Date.now() - lastActivity < IDLE_MS) await sleep(IDLE_MS / 2);
    }
    endedByUs = true;
    if (s.end === 'terminate' || closed) ws.terminate();
    else {
      ws.close(1000);
      await Promise.race([closedP, sleep(STEP_TIMEOUT_MS)]);
      ws.terminate();
    }
    await closedP;
  }

  private async sendFrame(ws: WebSocket, data: Buffer, text: boolean, fragments: number): Promise<void> {
    const step = Math.max(1, Math.ceil(data.length / fragments));
    for (let off = 0; off < data.length || off === 0; off += step) {
      const piece = data.subarray(off, off + step);
      const fin = off + step >= data.length;
      const sent = await new Promise<boolean>((resolve) => {
        ws.send(text ? piece.toString('latin1') : piece, { binary: !text, fin }, (err) => resolve(!err));
      });
      if (!sent || fin) return;
    }
  }
}
