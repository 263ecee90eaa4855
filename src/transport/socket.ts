/**
 * Small helpers shared by both ends of a peer link: closing a socket so that the peer learns
 * why yet a silent peer cannot hold it open, and a ping-based liveness check.
 */
import type { RawData, WebSocket } from 'ws';

/** Path of the peer-link WebSocket route (the version is also in every frame header). */
export const PEER_PATH = '/raft/v1';

/** How long a closing socket may wait for the peer's close frame before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * Sends a close frame with `code` and `reason` (at most 123 bytes on the wire), then destroys
 * the socket if the peer does not complete the closing handshake in time.
 */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === ws.CLOSED) return;
  if (ws.readyState === ws.CONNECTING) {
    ws.terminate();
    return;
  }
  if (ws.readyState === ws.OPEN) ws.close(code, truncateUtf8(reason, 123));
  setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
}

/**
 * The longest prefix of `s` whose UTF-8 encoding fits in `maxBytes`, cut between characters:
 * ws throws on a close reason over 123 bytes, and reasons may quote a peer's (hostile) ids.
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}

/**
 * Pings every `intervalMs`; a ping still unanswered at the next tick means the peer is gone
 * (or too stalled to matter) and `onDead` runs. Returns a function that stops the checks.
 */
export function keepAlive(ws: WebSocket, intervalMs: number, onDead: () => void, onRtt?: (ms: number) => void): () => void {
  let awaitingPong = false;
  let pingAt = 0;
  const onPong = () => {
    // A pong the peer sends unasked (RFC 6455 allows it) measures nothing.
    if (awaitingPong) onRtt?.(performance.now() - pingAt);
    awaitingPong = false;
  };
  ws.on('pong', onPong);
  const timer = setInterval(() => {
    if (awaitingPong) {
      clearInterval(timer);
      onDead();
      return;
    }
    awaitingPong = true;
    pingAt = performance.now();
    ws.ping();
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    ws.off('pong', onPong);
  };
}

/** The bytes of a received message (ws hands out Buffers with the default binaryType). */
export function frameBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
