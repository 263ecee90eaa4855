/** Toy handler tables and connections for router and server tests. */
import type { Handler, HandlerTable } from '../../../src/resp/commands/router.ts';
import { HANDLER_NAMES, type HandlerName } from '../../../src/resp/commands/table.ts';
import { ClientConn, type ConnectionControl } from '../../../src/resp/conn.ts';
import { DeferredReply } from '../../../src/resp/deferred-reply.ts';
import { R, type Reply } from '../../../src/resp/reply.ts';

/** A full table whose unlisted commands answer `-ERR test: <name> not implemented`. */
export function handlerTable(overrides: Partial<Record<HandlerName, Handler>>): HandlerTable {
  const table = {} as Record<HandlerName, Handler>;
  for (const name of HANDLER_NAMES) {
    table[name] = overrides[name] ?? (() => R.error(`ERR test: ${name} not implemented`));
  }
  return table;
}

/** A connection with no socket: pushes are collected, closes recorded, deferred replies kept as given. */
export function fakeConn(opts: { authenticated?: boolean } = {}): {
  conn: ClientConn;
  pushed: Reply[];
  closed: string[];
} {
  const pushed: Reply[] = [];
  const closed: string[] = [];
  const control: ConnectionControl = {
    push: (r) => pushed.push(r),
    defer: () => new DeferredReply({ settled: () => {} }, conn.resp),
    closeAfterReply: () => closed.push('after-reply'),
    close: () => closed.push('now'),
    memory: () => ({ qbuf: 0, argvMem: 0, multiMem: 0, obl: 0, oll: 0, omem: 0, total: 0 }),
  };
  const conn = new ClientConn(7, '127.0.0.1:50000', '127.0.0.1:6379', 9, 1_000_000, opts.authenticated ?? true, control);
  return { conn, pushed, closed };
}

export const args = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x, 'latin1'));

/** A seeded source of small random delays, standing in for commit latency. */
export function prngDelay(seed: number, maxMs: number): () => Promise<void> {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    const ms = a % (maxMs + 1);
    return new Promise((resolve) => setTimeout(resolve, ms));
  };
}
