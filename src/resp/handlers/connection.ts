/**
 * Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT and CLIENT, with Redis
 * 7.0's replies and error texts. There is one user, "default", whose password is `requirepass`
 * (no password: any AUTH as "default" succeeds, as Redis's nopass user).
 */
import { secretMatches } from '../../node/access.ts';
import { discardTransaction } from '../commands/router.ts';
import type { ClientConn } from '../conn.ts';
import { R } from '../reply.ts';
import { cstr, INT32_MAX, INT32_MIN, int64, option, SYNTAX_ERROR } from './args.ts';
import { type CommandImpl, type LocalHandler, local, type NodeContext } from './context.ts';
import { serverRole } from './topology.ts';

/** The version RaftKV's command table and replies follow. */
export const REDIS_VERSION = '7.0.15';

const WRONGPASS = R.error('WRONGPASS invalid username-password pair or user is disabled.');
const RESET = R.simple('RESET');
const BAD_NAME = R.error('ERR Client names cannot contain spaces, newlines or special characters.');

/** ACLAuthenticateUser for the one user; the password is compared in constant time. */
function authenticate(ctx: NodeContext, conn: ClientConn, user: Buffer, pass: Buffer): boolean {
  const required = ctx.node.cfg.requirepass;
  if (user.toString('latin1') !== 'default') return false;
  if (required !== '' && !secretMatches(pass, required)) return false;
  conn.authenticated = true;
  conn.user = 'default';
  return true;
}

/** validateClientName: printable ASCII without spaces; empty clears the name. */
function validName(name: Buffer): boolean {
  for (const c of name) if (c < 0x21 || c > 0x7e) return false;
  return true;
}

const ping: LocalHandler = (_ctx, conn, argv, cmd) => {
  if (argv.length > 2) return R.error(`ERR wrong number of arguments for '${cmd.name}' command`);
  if (conn.resp === 2 && conn.subscribed) return R.array([R.bulk('pong'), R.bulk(argv.length === 2 ? argv[1] : '')]);
  return argv.length === 2 ? R.bulk(argv[1]) : R.PONG;
};

const hello: LocalHandler = (ctx, conn, argv) => {
  let version: number | undefined;
  let next = 1;
  if (argv.length >= 2) {
    const v = int64(argv[next++]);
    if (v === null) return R.error('ERR Protocol version is not an integer or out of range');
    if (v < 2n || v > 3n) return R.error('NOPROTO unsupported protocol version');
    version = Number(v);
  }
  let user: Buffer | undefined;
  let pass: Buffer | undefined;
  let name: Buffer | undefined;
  for (let j = next; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = option(argv[j]);
    if (opt === 'auth' && more >= 2) {
      user = argv[j + 1];
      pass = argv[j + 2];
      j += 2;
    } else if (opt === 'setname' && more >= 1) {
      name = argv[j + 1];
      if (!validName(name)) return BAD_NAME;
      j++;
    } else return R.error(`ERR Syntax error in HELLO option '${cstr(argv[j])}'`);
  }
  if (user !== undefined && pass !== undefined && !authenticate(ctx, conn, user, pass)) return WRONGPASS;
  if (!conn.authenticated) {
    return R.error(
      'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (name !== undefined) conn.name = name.length === 0 ? null : name.toString('latin1');
  if (version !== undefined) conn.resp = version as 2 | 3;
  return R.map([
    [R.bulk('server'), R.bulk('redis')],
    [R.bulk('version'), R.bulk(REDIS_VERSION)],
    [R.bulk('proto'), R.int(conn.resp)],
    [R.bulk('id'), R.int(conn.id)],
    [R.bulk('mode'), R.bulk('cluster')],
    [R.bulk('role'), R.bulk(serverRole(ctx.node) === 'master' ? 'master' : 'replica')],
    [R.bulk('modules'), R.EMPTY_ARRAY],
  ]);
};

const auth: LocalHandler = (ctx, conn, argv) => {
  if (argv.length > 3) return SYNTAX_ERROR;
  if (argv.length === 2 && ctx.node.cfg.requirepass === '') {
    return R.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  }
  const [user, pass] = argv.length === 2 ? [Buffer.from('default'), argv[1]] : [argv[1], argv[2]];
  return authenticate(ctx, conn, user, pass) ? R.OK : WRONGPASS;
};

const select: LocalHandler = (_ctx, _conn, argv) => {
  const v = int64(argv[1]);
  if (v === null) return R.error('ERR value is not an integer or out of range');
  if (v < INT32_MIN || v > INT32_MAX) {
    return R.error('ERR value is out of range, value must between -2147483648 and 2147483647');
  }
  return v === 0n ? R.OK : R.error('ERR DB index is out of range');
};

/** RESET: back to a new connection's state (clearClientConnectionState); CLIENT NO-EVICT stays. */
const reset: LocalHandler = (ctx, conn) => {
  discardTransaction(conn);
  ctx.subscriptions.dropAll(conn);
  const noEvict = conn.noEvict;
  conn.reset();
  conn.noEvict = noEvict;
  conn.user = 'default';
  conn.authenticated = ctx.node.cfg.requirepass === '';
  // A WATCH still waiting for its barrier would otherwise record its keys after the reset.
  return ctx.afterReads(conn, () => {
    conn.watched.clear();
    conn.watchDirty = false;
    return RESET;
  });
};

const CLIENT_TYPES = new Set(['normal', 'slave', 'replica', 'pubsub', 'master']);

/** CLIENT LIST [TYPE type] [ID id ...]: one line per client, as a verbatim string. */
const clientList: LocalHandler = (ctx, _conn, argv) => {
  const now = Date.now();
  const all = ctx.server?.clients() ?? [];
  let chosen = all;
  if (argv.length === 4 && option(argv[2]) === 'type') {
    const type = option(argv[3]);
    if (!CLIENT_TYPES.has(type)) return R.error(`ERR Unknown client type '${cstr(argv[3])}'`);
    // Every client here is a normal or pub/sub client; none is a replica or master link.
    chosen = type === 'pubsub' ? all.filter((c) => c.subscribed) : type === 'normal' ? all.filter((c) => !c.subscribed) : [];
  } else if (argv.length > 3 && option(argv[2]) === 'id') {
    chosen = [];
    for (let j = 3; j < argv.length; j++) {
      const id = int64(argv[j]);
      if (id === null) return R.error('ERR Invalid client ID');
      const c = all.find((x) => BigInt(x.id) === id);
      if (c) chosen.push(c);
    }
  } else if (argv.length !== 2) return SYNTAX_ERROR;
  return R.verbatim(chosen.map((c) => `${c.info(now)}\n`).join(''));
};

export const CONNECTION_COMMANDS = {
  ping: local(ping),
  echo: local((_ctx, _conn, argv) => R.bulk(argv[1])),
  quit: local((_ctx, conn) => {
    conn.closeAfterReply();
    return R.OK;
  }),
  reset: local(reset),
  hello: local(hello),
  auth: local(auth),
  select: local(select),
  'client|setname': local((_ctx, conn, argv) => {
    if (!validName(argv[2])) return BAD_NAME;
    conn.name = argv[2].length === 0 ? null : argv[2].toString('latin1');
    return R.OK;
  }),
  'client|getname': local((_ctx, conn) => (conn.name === null ? R.NULL : R.bulk(Buffer.from(conn.name, 'latin1')))),
  'client|id': local((_ctx, conn) => R.int(conn.id)),
  'client|info': local((_ctx, conn) => R.verbatim(`${conn.info(Date.now())}\n`)),
  'client|list': local(clientList),
  'client|no-evict': local((_ctx, conn, argv) => {
    const mode = option(argv[2]);
    if (mode !== 'on' && mode !== 'off') return SYNTAX_ERROR;
    conn.noEvict = mode === 'on';
    return R.OK;
  }),
} as const satisfies Record<string, CommandImpl>;
