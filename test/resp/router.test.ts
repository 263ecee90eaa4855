import { describe, expect, it } from 'vitest';
import { CommandRouter } from '../../src/resp/commands/router.ts';
import type { CommandSpec } from '../../src/resp/commands/spec.ts';
import { encodeReply } from '../../src/resp/encoder.ts';
import { R, type Reply } from '../../src/resp/reply.ts';
import type { Answer } from '../../src/resp/server.ts';
import { args, fakeConn, handlerTable } from './support/handlers.ts';

const text = (r: Answer) => encodeReply(r as Reply, 2).toString('latin1');

function router(guard?: (cmd: CommandSpec, argv: Buffer[]) => Reply | null) {
  const calls: string[] = [];
  const r: CommandRouter = new CommandRouter(
    handlerTable({
      get: (_c, argv) => {
        calls.push(`get ${argv[1]}`);
        return R.bulk('v');
      },
      auth: (c) => {
        c.authenticated = true;
        return R.OK;
      },
      multi: (c) => {
        c.multi = [];
        return R.OK;
      },
      exec: (c): Reply => {
        const queued = c.multi ?? [];
        const dirty = c.multiDirty;
        c.multi = null;
        c.multiDirty = false;
        if (dirty) return R.error('EXECABORT Transaction discarded because of previous errors.');
        return R.array(queued.map((q): Reply => r.execute(c, q.cmd, q.argv) as Reply));
      },
      subscribe: (c, argv) => {
        for (const ch of argv.slice(1)) c.channels.add(ch.toString('latin1'));
        return R.OK;
      },
      ping: () => R.PONG,
      'client|setname': (c, argv) => {
        c.name = argv[2].toString();
        return R.OK;
      },
    }),
    { guard: guard ? (_conn, cmd, argv) => guard(cmd, argv) : undefined },
  );
  return { r, calls };
}

describe('CommandRouter', () => {
  it('calls the handler of the resolved (sub)command', () => {
    const { r, calls } = router();
    const { conn } = fakeConn();
    expect(text(r.dispatch(conn, args('GET', 'k')))).toBe('$1\r\nv\r\n');
    expect(calls).toEqual(['get k']);
    expect(text(r.dispatch(conn, args('client', 'SetName', 'bob')))).toBe('+OK\r\n');
    expect(conn.name).toBe('bob');
    expect(conn.lastCommand).toBe('client|setname');
  });

  it('answers unknown commands, unknown subcommands and bad arity before any handler runs', () => {
    const { r, calls } = router();
    const { conn } = fakeConn();
    expect(text(r.dispatch(conn, args('foo', 'a')))).toBe("-ERR unknown command 'foo', with args beginning with: 'a' \r\n");
    expect(text(r.dispatch(conn, args('client', 'kill')))).toBe("-ERR unknown subcommand 'kill'. Try CLIENT HELP.\r\n");
    expect(text(r.dispatch(conn, args('client')))).toBe("-ERR wrong number of arguments for 'client' command\r\n");
    expect(text(r.dispatch(conn, args('get')))).toBe("-ERR wrong number of arguments for 'get' command\r\n");
    expect(calls).toEqual([]);
  });

  it('demands AUTH, except for no-auth commands', () => {
    const { r } = router();
    const { conn } = fakeConn({ authenticated: false });
    expect(text(r.dispatch(conn, args('get', 'k')))).toBe('-NOAUTH Authentication required.\r\n');
    expect(text(r.dispatch(conn, args('auth', 'pw')))).toBe('+OK\r\n');
    expect(text(r.dispatch(conn, args('get', 'k')))).toBe('$1\r\nv\r\n');
  });

  it('checks arity before auth, as Redis does', () => {
    const { r } = router();
    const { conn } = fakeConn({ authenticated: false });
    expect(text(r.dispatch(conn, args('get')))).toBe("-ERR wrong number of arguments for 'get' command\r\n");
  });

  it('lets the guard refuse (MOVED) after the checks and before queuing', () => {
    const { r, calls } = router((cmd) => (cmd.is.write ? R.error('MOVED 866 127.0.0.1:6380') : null));
    const { conn } = fakeConn();
    expect(text(r.dispatch(conn, args('set', 'k', 'v')))).toBe('-MOVED 866 127.0.0.1:6380\r\n');
    expect(text(r.dispatch(conn, args('get', 'k')))).toBe('$1\r\nv\r\n');
    expect(text(r.dispatch(conn, args('set')))).toBe("-ERR wrong number of arguments for 'set' command\r\n");
    expect(calls).toEqual(['get k']);
  });

  it('restricts RESP2 subscribers to the subscribe commands, PING, QUIT and RESET', () => {
    const { r } = router();
    const { conn } = fakeConn();
    r.dispatch(conn, args('subscribe', 'ch'));
    expect(text(r.dispatch(conn, args('get', 'k')))).toBe(
      "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    expect(text(r.dispatch(conn, args('ping')))).toBe('+PONG\r\n');
    conn.resp = 3;
    expect(text(r.dispatch(conn, args('get', 'k')))).toBe('$1\r\nv\r\n');
  });

  it('queues commands inside MULTI and runs them at EXEC', () => {
    const { r, calls } = router();
    const { conn } = fakeConn();
    r.dispatch(conn, args('multi'));
    expect(text(r.dispatch(conn, args('get', 'a')))).toBe('+QUEUED\r\n');
    expect(text(r.dispatch(conn, args('get', 'b')))).toBe('+QUEUED\r\n');
    expect(calls).toEqual([]);
    expect(text(r.dispatch(conn, args('exec')))).toBe('*2\r\n$1\r\nv\r\n$1\r\nv\r\n');
    expect(calls).toEqual(['get a', 'get b']);
  });

  it('a command refused while queuing aborts the transaction', () => {
    const { r } = router();
    const { conn } = fakeConn();
    r.dispatch(conn, args('multi'));
    r.dispatch(conn, args('nope'));
    expect(conn.multiDirty).toBe(true);
    expect(text(r.dispatch(conn, args('get', 'a')))).toBe('+QUEUED\r\n');
    expect(text(r.dispatch(conn, args('exec')))).toBe('-EXECABORT Transaction discarded because of previous errors.\r\n');
  });
});
