/**
 * Sends a session's bytes on a fresh TCP connection (the RESP and HTTP targets): the writes
 * in order, then the session's ending. A client that never reads is left open on its own for
 * its hold time, so it costs the server memory, not the fuzzer a worker.
 */
import { connect, type Socket } from 'node:net';
import type { StreamSession } from './resp.ts';
import type { Counters } from './target.ts';

/** How long a reading client waits for the server to go quiet before it leaves. */
const IDLE_MS = 25;
/** Longest a session waits for a write to drain or a reply to finish. */
const STEP_TIMEOUT_MS = 2000;

const lingering = new Set<Socket>();
/** At most this many non-reading clients held open at once. */
const MAX_LINGERING = 16;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Resolves once the session no longer needs a worker (a non-reading client is left open);
 * `onClosed` runs when its connection is gone.
 */
export async function sendStream(port: number, s: StreamSession, stats: Counters, onClosed: () => void): Promise<void> {
  while (!s.reads && lingering.size >= MAX_LINGERING) await sleep(20);
  const sock = connect({ port, host: '127.0.0.1', noDelay: true });
  let closed = false;
  let lastActivity = Date.now();
  let endedByUs = false;
  const closedP = new Promise<void>((resolve) => {
    sock.once('close', () => {
      closed = true;
      if (!endedByUs) stats.serverClosed++;
      onClosed();
      resolve();
    });
  });
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    stats.replyBytes += d.length;
    lastActivity = Date.now();
  });
  if (!s.reads) sock.pause();
  const connected = await Promise.race([new Promise<boolean>((r) => sock.once('connect', () => r(true))), closedP.then(() => false)]);
  if (!connected) return;

  for (const chunk of s.writes) {
    if (closed) break;
    if (!sock.write(chunk)) {
      const drained = await Promise.race([
        new Promise<boolean>((r) => sock.once('drain', () => r(true))),
        closedP.then(() => false),
        sleep(STEP_TIMEOUT_MS).then(() => false),
      ]);
      if (!drained) break;
    }
    lastActivity = Date.now();
  }

  if (!s.reads) {
    lingering.add(sock);
    const t = setTimeout(() => {
      endedByUs = true;
      sock.destroy();
    }, s.holdMs);
    void closedP.then(() => {
      clearTimeout(t);
      lingering.delete(sock);
    });
    return;
  }
  if (s.end === 'wait') {
    // Until the server has said everything it will say (or closes).
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!closed && Date.now() < deadline && Date.now() - lastActivity < IDLE_MS) await sleep(IDLE_MS / 2);
  } else if (s.end === 'fin') {
    endedByUs = true;
    sock.end();
    await Promise.race([closedP, sleep(STEP_TIMEOUT_MS)]);
  }
  endedByUs = true;
  if (s.end === 'reset' && !closed) sock.resetAndDestroy();
  else sock.destroy();
  await closedP;
}
