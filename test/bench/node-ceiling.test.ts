/**
 * The bench's Node.js ceiling must answer correctly, or the read ratios measured against it
 * mean nothing: real clients, pipelines, frames split anywhere, binary values, redis-benchmark.
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup } from './procs.ts';
import { type CeilingHandle, startNodeCeiling } from './systems/node-ceiling.ts';

let server: CeilingHandle;
beforeAll(async () => {
  server = await startNodeCeiling();
});
afterAll(cleanup);

describe('the Node ceiling server', () => {
  it('serves SET and GET to ioredis, pipelined in order, with binary values', async () => {
    // No INFO ready check: the ceiling knows GET, SET, PING and CONFIG only.
    const r = new Redis(server.port, { enableReadyCheck: false });
    try {
      const value = Buffer.from([0, 13, 10, 255, 36, 42]);
      expect(await r.set('bin', value)).toBe('OK');
      expect(await r.getBuffer('bin')).toEqual(value);
      expect(await r.get('absent')).toBeNull();
      const p = r.pipeline();
      for (let i = 0; i < 1000; i++) p.set(`k${i}`, `v${i}`).get(`k${i}`);
      const replies = (await p.exec())!;
      for (let i = 0; i < 1000; i++) expect(replies[2 * i + 1]).toEqual([null, `v${i}`]);
    } finally {
      r.disconnect();
    }
  });

  it('answers a pipeline written one byte at a time', async () => {
    const frame = Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n');
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect(server.port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
        if (got.endsWith('hello\r\n')) {
          s.end();
          resolve(got);
        }
      });
      s.on('error', reject);
      s.on('connect', async () => {
        for (const b of frame) {
          s.write(Buffer.from([b]));
          await new Promise((r) => setImmediate(r));
        }
      });
    });
    expect(reply).toBe('+OK\r\n$5\r\nhello\r\n');
  });

  it('takes redis-benchmark GET and SET, pipelined and not', () => {
    for (const pipeline of ['1', '16']) {
      const out = execFileSync('redis-benchmark', ['-p', String(server.port), '-t', 'set,get', '-n', '5000', '-c', '10', '-P', pipeline, '-r', '1000', '-q'], {
        encoding: 'utf8',
      });
      expect(out).toMatch(/SET: [\d.]+ requests per second/);
      expect(out).toMatch(/GET: [\d.]+ requests per second/);
    }
  });
});
