/**
 * Reading a running node's memory from inside it, through the inspector protocol (nodes started
 * with `--inspect=127.0.0.1:0`, as memory-breakdown.ts and the soak do): process.memoryUsage(),
 * the V8 heap per space and the buffers its sockets hold, beside RSS from /proc.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { NodeHandle } from '../support/cluster-harness.ts';

export class InspectorError extends Error {}

/** A minimal Chrome DevTools protocol client: one request at a time, events passed to `onEvent`. */
export class Inspector {
  private nextId = 1;
  private pending = new Map<number, (msg: { result?: unknown; error?: { message: string } }) => void>();
  onEvent: (method: string, params: Record<string, unknown>) => void = () => {};

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString());
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg);
      else this.onEvent(msg.method, msg.params);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url, { maxPayload: 2 ** 30 });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Inspector(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      this.pending.set(id, (msg) => {
        this.pending.delete(id);
        if (msg.error) reject(new InspectorError(`${method}: ${msg.error.message}`));
        else resolve(msg.result as T);
      });
    });
  }

  /** Evaluates a JSON-returning expression in the node's main context. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.call<{ result: { value: string } }>('Runtime.evaluate', { expression: `JSON.stringify(${expression})` });
    return JSON.parse(r.result.value) as T;
  }

  close(): void {
    this.ws.close();
  }
}

/** The inspector URL a node printed at startup (its stderr goes to its log file). */
export function inspectorUrl(n: NodeHandle): string {
  const m = /Debugger listening on (ws:\/\/\S+)/.exec(readFileSync(n.logFile, 'utf8'));
  if (!m) throw new InspectorError(`${n.id} printed no inspector URL`);
  return m[1];
}

export function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|RssAnon|RssFile):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) / 1024;
  }
  return out;
}

const USAGE = `(() => {
  const mb = (x) => Math.round(x / 2 ** 17) / 8;
  const u = process.memoryUsage();
  const spaces = Object.fromEntries(process.getBuiltinModule('v8').getHeapSpaceStatistics()
    .filter((s) => s.space_used_size > 2 ** 20).map((s) => [s.space_name, mb(s.space_used_size)]));
  // Bytes queued in user space on every open socket (client connections and peer links):
  // what a slow reader leaves in the node's memory. Kernel socket buffers are not in RSS.
  const socks = process._getActiveHandles().filter((h) => h && typeof h.writableLength === 'number' && 'remotePort' in h);
  const socketKiB = (k) => Math.round(socks.reduce((a, h) => a + (h[k] ?? 0), 0) / 1024);
  const sockets = { count: socks.length, writableKiB: socketKiB('writableLength'), readableKiB: socketKiB('readableLength') };
  return { heapTotal: mb(u.heapTotal), heapUsed: mb(u.heapUsed), external: mb(u.external), arrayBuffers: mb(u.arrayBuffers), spaces, sockets };
})()`;

export async function memoryOf(insp: Inspector, n: NodeHandle): Promise<Record<string, unknown>> {
  return { ...procStatus(n.proc!.pid!), ...(await insp.evaluate<Record<string, unknown>>(USAGE)) };
}
