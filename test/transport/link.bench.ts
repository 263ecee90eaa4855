/**
 * Loopback throughput of peer links, to justify three choices of the outbound link (outbox.ts, link.ts):
 *  1. one batch frame per flush, against one WebSocket frame per message, with and without
 *     corking the TCP socket around the per-message writes (raw ws, same payloads);
 *  2. the whole transport end to end, batching on vs effectively off (maxBatchBytes tiny);
 *  3. client masking with a zero mask (ws skips the XOR) against ws's random mask.
 *
 *   npx tsx test/transport/link.bench.ts
 */
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { EntryType, type Message, MessageType } from '../../src/raft/types.ts';
import { encodeBatch, encodeMessage, messageSize } from '../../src/transport/codec.ts';
import { startNode, waitFor } from './harness.ts';

const N = 100_000;

function app(i: number): Message {
  return {
    type: MessageType.App,
    from: 'a',
    to: 'b',
    term: 7,
    logTerm: 7,
    index: 1_000_000 + i,
    entries: [{ term: 7, index: 1_000_001 + i, type: EntryType.Normal, data: new Uint8Array(16).fill(i & 0xff) }],
    commit: 1_000_000 + i,
    reject: false,
    rejectHint: 0,
  };
}

async function rawPair(zeroMask: boolean) {
  let received = 0;
  let bytes = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 << 20 });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) =>
    ws.on('message', (d: Buffer) => {
      received++;
      bytes += d.length;
    }),
  );
  const port = (wss.address() as AddressInfo).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, {
    perMessageDeflate: false,
    ...(zeroMask ? { generateMask: (m: Buffer) => void m.fill(0) } : {}),
  });
  await new Promise((r) => ws.once('open', r));
  return {
    ws,
    received: () => received,
    bytes: () => bytes,
    close: async () => {
      ws.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
}

async function rawRun(name: string, mode: 'per-message' | 'corked' | 'batch') {
  const p = await rawPair(true);
  const msgs = Array.from({ length: N }, (_, i) => app(i));
  const start = process.hrtime.bigint();
  let expected = 0;
  const turn = 1000; // messages per event-loop turn, like a busy Ready loop
  for (let i = 0; i < N; i += turn) {
    const slice = msgs.slice(i, i + turn);
    if (mode === 'batch') {
      p.ws.send(encodeBatch(slice, slice.map(messageSize)));
      expected++;
    } else {
      const sock = (p.ws as unknown as { _socket: import('node:net').Socket })._socket;
      if (mode === 'corked') sock.cork();
      for (const m of slice) p.ws.send(encodeMessage(m));
      if (mode === 'corked') sock.uncork();
      expected += slice.length;
    }
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => p.received() === expected, name, 60_000);
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${name.padEnd(34)} ${Math.round(N / s)
      .toLocaleString('en')
      .padStart(12)} msg/s  ${expected} frames`,
  );
  await p.close();
}

async function transportRun(name: string, maxBatchBytes: number) {
  const quiet = pino({ level: 'silent' });
  const b = await startNode('b', { logger: quiet });
  const a = await startNode('a', { logger: quiet, maxBatchBytes, maxQueueMessages: 1_000_000, maxQueueBytes: 1 << 30 });
  a.transport.setPeers([{ id: 'b', url: b.url }]);
  b.transport.setPeers([{ id: 'a', url: a.url }]);
  await waitFor(() => a.transport.stats().b?.state === 'connected', 'link');
  const msgs = Array.from({ length: N }, (_, i) => app(i));
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i += 1000) {
    a.transport.send(msgs.slice(i, i + 1000));
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => b.received.length === N, name, 60_000);
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${name.padEnd(34)} ${Math.round(N / s)
      .toLocaleString('en')
      .padStart(12)} msg/s  dropped ${a.transport.stats().b.dropped}`,
  );
  await a.stop();
  await b.stop();
}

async function maskRun(zeroMask: boolean) {
  const p = await rawPair(zeroMask);
  const chunk = Buffer.alloc(1 << 20, 7);
  const total = 256;
  const start = process.hrtime.bigint();
  for (let i = 0; i < total; i++) p.ws.send(chunk);
  await waitFor(() => p.received() === total, 'mask', 60_000);
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${(zeroMask ? 'zero mask' : 'random mask').padEnd(34)} ${Math.round(total / s)
      .toLocaleString('en')
      .padStart(12)} MiB/s`,
  );
  await p.close();
}

console.log(`-- raw ws, ${N} App messages (1 entry of 16 B), 1000 per event-loop turn`);
await rawRun('one frame per message', 'per-message');
await rawRun('one frame per message, corked', 'corked');
await rawRun('one batch frame per turn', 'batch');
console.log('-- Transport end to end');
await transportRun('batching off (maxBatchBytes=64)', 64);
await transportRun('batching on (default 256 KiB)', 256 * 1024);
console.log('-- client → server bulk (256 × 1 MiB frames)');
await maskRun(false);
await maskRun(true);
