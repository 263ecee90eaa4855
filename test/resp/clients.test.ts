/**
 * Real client libraries (ioredis, node-redis in RESP2 and RESP3) against the RESP server with
 * the command router and a toy in-memory handler table whose writes answer asynchronously, as
 * writes waiting for a Raft commit will.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandRouter } from '../../src/resp/commands/router.ts';
import type { ClientConn } from '../../src/resp/conn.ts';
import { R, type Reply } from '../../src/resp/reply.ts';
import { RespServer } from '../../src/resp/server.ts';
import { handlerTable, prngDelay } from './support/handlers.ts';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function startToyServer(): Promise<number> {
  const data = new Map<string, Buffer>();
  const delay = prngDelay(42, 8);
  const key = (b: Buffer) => b.toString('latin1');
  // Writes finish later, in order (as log entries apply); a read waits for its connection's
  // pending write, as the real dispatcher must (see ClientConn.pendingWrite).
  const write = (conn: ClientConn, apply: () => Reply): Promise<Reply> => {
    const done = (conn.pendingWrite ?? Promise.resolve()).then(delay).then(apply);
    conn.pendingWrite = done;
    return done;
  };
  const read = (conn: ClientConn, run: () => Reply): Reply | Promise<Reply> => (conn.pendingWrite === null ? run() : conn.pendingWrite.then(run));
  const router = new CommandRouter(
    handlerTable({
      ping: () => R.PONG,
      echo: (_c, argv) => R.bulk(argv[1]),
      get: (conn, argv) => read(conn, () => R.bulkOrNull(data.get(key(argv[1])))),
      set: (conn, argv) =>
        write(conn, () => {
          data.set(key(argv[1]), Buffer.from(argv[2]));
          return R.OK;
        }),
      del: (conn, argv) =>
        write(conn, () => {
          let n = 0;
          for (const k of argv.slice(1)) if (data.delete(key(k))) n++;
          return R.int(n);
        }),
      info: () => R.verbatim('# Server\r\nredis_version:7.0.15\r\nloading:0\r\n'),
      hello: (conn, argv) => {
        if (argv.length > 1) conn.resp = argv[1].toString() === '3' ? 3 : 2;
        return R.map([
          [R.bulk('server'), R.bulk('redis')],
          [R.bulk('version'), R.bulk('7.0.15')],
          [R.bulk('proto'), R.int(conn.resp)],
          [R.bulk('id'), R.int(conn.id)],
          [R.bulk('mode'), R.bulk('standalone')],
          [R.bulk('role'), R.bulk('master')],
          [R.bulk('modules'), R.EMPTY_ARRAY],
        ]);
      },
      'client|setname': (conn, argv) => {
        conn.name = argv[2].toString();
        return R.OK;
      },
      'client|getname': (conn) => R.bulkOrNull(conn.name),
    }),
  );
  const server = new RespServer({ dispatcher: router });
  cleanup.push(() => server.close());
  return (await server.listen()).port;
}

describe('ioredis', () => {
  it('connects, reads its own async writes, and keeps pipeline order', async () => {
    const port = await startToyServer();
    const redis = new Redis({ port, host: '127.0.0.1', connectionName: 'ioredis-test', lazyConnect: true });
    cleanup.push(() => redis.disconnect());
    await redis.connect();
    expect(await redis.client('GETNAME')).toBe('ioredis-test');
    expect(await redis.set('k', 'v')).toBe('OK');
    expect(await redis.get('k')).toBe('v');
    expect(await redis.get('missing')).toBeNull();

    const p = redis.pipeline();
    for (let i = 0; i < 200; i++) {
      p.set(`key${i}`, `value${i}`);
      p.get(`key${i}`);
    }
    const results = (await p.exec()) ?? [];
    for (let i = 0; i < 200; i++) {
      expect(results[2 * i]).toEqual([null, 'OK']);
      expect(results[2 * i + 1]).toEqual([null, `value${i}`]);
    }
    expect(await redis.del('key1', 'key2', 'nope')).toBe(2);
  });

  it('round-trips binary values and surfaces Redis error texts', async () => {
    const port = await startToyServer();
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    cleanup.push(() => redis.disconnect());
    await redis.connect();
    const value = Buffer.from([0, 13, 10, 255, 42, 36]);
    await redis.set(Buffer.from([1, 2, 0]), value);
    expect(await redis.getBuffer(Buffer.from([1, 2, 0]))).toEqual(value);
    await expect(redis.call('nosuch', 'a', 'b')).rejects.toThrow("ERR unknown command 'nosuch', with args beginning with: 'a' 'b' ");
    await expect(redis.call('get')).rejects.toThrow("ERR wrong number of arguments for 'get' command");
  });
});

describe('node-redis', () => {
  for (const RESP of [2, 3] as const) {
    it(`works in RESP${RESP}`, async () => {
      const port = await startToyServer();
      const client = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: false }, RESP });
      client.on('error', () => {});
      cleanup.push(() => client.destroy());
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      expect(await client.set('a', '1')).toBe('OK');
      expect(await client.get('a')).toBe('1');
      expect(await client.get('none')).toBeNull();
      const [x, y] = await Promise.all([client.set('b', '2'), client.get('b')]);
      expect([x, y]).toEqual(['OK', '2']);
    });
  }
});
