/**
 * The HTTP target: requests generated from the node's own OpenAPI document, pipelined on raw
 * TCP connections to its HTTP port (raw, so that malformed request lines and headers reach
 * the server as sent).
 */
import { httpSession, type Operation, operationsOf } from './http.ts';
import type { StreamSession } from './resp.ts';
import type { Rng } from './rng.ts';
import { sendStream } from './stream.ts';
import type { Counters, NodeInfo, Target } from './target.ts';

export class HttpTarget implements Target<StreamSession> {
  private ops: Operation[] = [];
  private port = 0;

  constructor(private readonly password: string) {}

  async prepare(node: NodeInfo): Promise<void> {
    this.port = node.httpPort;
    const headers: Record<string, string> = this.password ? { authorization: `Bearer ${this.password}` } : {};
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/openapi.json`, { headers, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
    // Sorted, so that the same seed picks the same routes whatever order the server lists them in.
    this.ops = operationsOf(await res.json()).sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
    if (this.ops.length === 0) throw new Error('the OpenAPI document lists no operations');
  }

  generate(rng: Rng, first: number, maxFrames: number): StreamSession {
    return httpSession(rng, this.ops, first, maxFrames, this.password);
  }

  send(s: StreamSession, counters: Counters, onClosed: () => void): Promise<void> {
    return sendStream(this.port, s, counters, onClosed);
  }

  bytesOf(s: StreamSession): Buffer[] {
    return s.writes;
  }
}
