import { describe, expect, it } from 'vitest';
import { arityError, checkArity, unknownCommandError, unknownSubcommandError } from '../../src/resp/commands/errors.ts';
import { commandCountReply, commandDocsListReply, commandInfoListReply, commandInfoReply } from '../../src/resp/commands/introspection.ts';
import { commandSlot, keysOf } from '../../src/resp/commands/keys.ts';
import {
  COMMAND_LIST,
  COMMANDS,
  HANDLER_NAMES,
  type HandlerName,
  lookupCommand,
  lookupCommandByFullName,
  resolveCommand,
} from '../../src/resp/commands/table.ts';
import { encodeReply } from '../../src/resp/encoder.ts';
import { keyHashSlot } from '../../src/resp/slot.ts';
import { args } from './support/handlers.ts';
import { plain } from './support/reply-reader.ts';

/** Issue 4's command list, and issue 13's and 14's additions. Typed as a full record, so the table can neither miss nor add one. */
const ISSUE_4: Record<HandlerName, true> = {
  ping: true,
  echo: true,
  quit: true,
  reset: true,
  hello: true,
  auth: true,
  select: true,
  'client|setname': true,
  'client|getname': true,
  'client|id': true,
  'client|info': true,
  'client|list': true,
  'client|no-evict': true,
  command: true,
  'command|count': true,
  'command|info': true,
  'command|docs': true,
  'config|get': true,
  'config|set': true,
  info: true,
  dbsize: true,
  time: true,
  set: true,
  get: true,
  getdel: true,
  getex: true,
  setex: true,
  psetex: true,
  setnx: true,
  mset: true,
  msetnx: true,
  mget: true,
  del: true,
  unlink: true,
  exists: true,
  type: true,
  strlen: true,
  append: true,
  incr: true,
  decr: true,
  incrby: true,
  decrby: true,
  incrbyfloat: true,
  expire: true,
  pexpire: true,
  expireat: true,
  pexpireat: true,
  ttl: true,
  pttl: true,
  expiretime: true,
  pexpiretime: true,
  persist: true,
  keys: true,
  scan: true,
  randomkey: true,
  flushall: true,
  flushdb: true,
  publish: true,
  subscribe: true,
  unsubscribe: true,
  psubscribe: true,
  punsubscribe: true,
  'pubsub|channels': true,
  'pubsub|numsub': true,
  'pubsub|numpat': true,
  multi: true,
  exec: true,
  discard: true,
  watch: true,
  unwatch: true,
  readonly: true,
  readwrite: true,
  'cluster|slots': true,
  'cluster|shards': true,
  'cluster|nodes': true,
  'cluster|info': true,
  'cluster|myid': true,
  'cluster|keyslot': true,
  // Issue 13: sharded pub/sub and slot introspection.
  spublish: true,
  ssubscribe: true,
  sunsubscribe: true,
  'pubsub|shardchannels': true,
  'pubsub|shardnumsub': true,
  'cluster|countkeysinslot': true,
  'cluster|getkeysinslot': true,
  'object|encoding': true,
  rename: true,
  renamenx: true,
  copy: true,
  hset: true,
  hsetnx: true,
  hmset: true,
  hget: true,
  hmget: true,
  hgetall: true,
  hdel: true,
  hexists: true,
  hlen: true,
  hkeys: true,
  hvals: true,
  hstrlen: true,
  hincrby: true,
  hincrbyfloat: true,
  hrandfield: true,
  hscan: true,
  sadd: true,
  srem: true,
  smembers: true,
  sismember: true,
  smismember: true,
  scard: true,
  spop: true,
  srandmember: true,
  smove: true,
  sinter: true,
  sintercard: true,
  sunion: true,
  sdiff: true,
  sinterstore: true,
  sunionstore: true,
  sdiffstore: true,
  sscan: true,
  lpush: true,
  rpush: true,
  lpushx: true,
  rpushx: true,
  lpop: true,
  rpop: true,
  llen: true,
  lrange: true,
  lindex: true,
  lset: true,
  lrem: true,
  ltrim: true,
  linsert: true,
  lpos: true,
  lmove: true,
  rpoplpush: true,
  lmpop: true,
  zadd: true,
  zincrby: true,
  zscore: true,
  zmscore: true,
  zcard: true,
  zcount: true,
  zrank: true,
  zrevrank: true,
  zrem: true,
  zpopmin: true,
  zpopmax: true,
  zmpop: true,
  zrange: true,
  zrangebyscore: true,
  zrevrangebyscore: true,
  zrangebylex: true,
  zrevrangebylex: true,
  zrevrange: true,
  zrangestore: true,
  zlexcount: true,
  zremrangebyrank: true,
  zremrangebyscore: true,
  zremrangebylex: true,
};

const errText = (r: ReturnType<typeof unknownCommandError>) => encodeReply(r, 2).toString('latin1');

describe('command table', () => {
  it('holds exactly the commands of issues 4, 13 and 14', () => {
    expect([...HANDLER_NAMES].sort()).toEqual(Object.keys(ISSUE_4).sort());
    expect(COMMAND_LIST).toHaveLength(142);
  });

  it("has Redis 7.0's metadata", () => {
    const get = COMMANDS.get('get');
    expect(get).toMatchObject({ arity: 2, flags: ['readonly', 'fast'], keys: [1, 1, 1], acl: ['@read', '@string', '@fast'] });
    expect(COMMANDS.get('mset')).toMatchObject({ arity: -3, flags: ['write', 'denyoom'], keys: [1, -1, 2] });
    expect(COMMANDS.get('client|setname')?.flags).toEqual(['noscript', 'loading', 'stale']);
    expect(COMMANDS.get('auth')?.is.no_auth).toBe(true);
    expect(COMMANDS.get('get')?.is.write).toBe(false);
    expect(COMMANDS.get('set')?.is.write).toBe(true);
    expect(COMMANDS.get('keys')?.tips).toEqual(['request_policy:all_shards', 'nondeterministic_output_order']);
  });

  it('every command is write or readonly or neither, never both, and keyed commands name their keys', () => {
    for (const c of COMMANDS.values()) {
      expect(c.is.write && c.is.readonly, c.name).toBe(false);
      if (c.key_specs.length > 0 && !c.is.movablekeys) expect(c.keys[0], c.name).toBeGreaterThan(0);
    }
  });

  it('finds movable keys from a keynum key spec (SINTERCARD numkeys key ...)', () => {
    const cmd = COMMANDS.get('sintercard')!;
    const argv = ['sintercard', '2', 'a', '{b}c', 'limit', '1'].map((a) => Buffer.from(a));
    expect(keysOf(cmd, argv).map(String)).toEqual(['a', '{b}c']);
    expect(commandSlot(cmd, argv)).toBe(keyHashSlot('a'));
    expect(
      keysOf(
        cmd,
        ['sintercard', 'x', 'a'].map((a) => Buffer.from(a)),
      ),
    ).toEqual([]);
  });

  it('looks names up in any case, from Buffers or strings', () => {
    expect(lookupCommand(Buffer.from('GeT'))?.name).toBe('get');
    expect(lookupCommand('CLIENT')?.name).toBe('client');
    expect(lookupCommand('gett')).toBeNull();
    expect(lookupCommand(Buffer.from('g\0t'))).toBeNull();
    expect(lookupCommandByFullName('CLIENT|SetName')?.name).toBe('client|setname');
    expect(lookupCommandByFullName('client|nope')).toBeNull();
  });

  it('resolves containers the way Redis does', () => {
    expect(resolveCommand(args('client'))?.name).toBe('client');
    expect(resolveCommand(args('Client', 'SETNAME', 'x'))?.name).toBe('client|setname');
    expect(resolveCommand(args('client', 'kill'))).toBeNull();
    expect(resolveCommand(args('command'))?.name).toBe('command');
    expect(resolveCommand(args('get', 'k'))?.name).toBe('get');
  });
});

describe('pre-execution errors', () => {
  it('arity', () => {
    const get = COMMANDS.get('get')!;
    expect(checkArity(get, 2)).toBeNull();
    expect(errText(checkArity(get, 1)!)).toBe("-ERR wrong number of arguments for 'get' command\r\n");
    expect(checkArity(get, 3)).not.toBeNull();
    const set = COMMANDS.get('set')!;
    expect(checkArity(set, 2)).not.toBeNull();
    expect(checkArity(set, 9)).toBeNull();
    expect(errText(arityError(COMMANDS.get('client|setname')!))).toBe("-ERR wrong number of arguments for 'client|setname' command\r\n");
  });

  it('unknown command, with the trailing space', () => {
    expect(errText(unknownCommandError(args('foo', 'a', 'b')))).toBe("-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    expect(errText(unknownCommandError(args('foo')))).toBe("-ERR unknown command 'foo', with args beginning with: \r\n");
  });

  it('unknown command truncation: name to 128 bytes, args while under 128', () => {
    const long = 'n'.repeat(200);
    expect(errText(unknownCommandError(args(long)))).toBe(`-ERR unknown command '${'n'.repeat(128)}', with args beginning with: \r\n`);
    // 40-byte args: 43 + 43 + 43 = 129 >= 128 after three, so the fourth is left out.
    const a = 'a'.repeat(40);
    expect(errText(unknownCommandError(args('x', a, a, a, a)))).toBe(`-ERR unknown command 'x', with args beginning with: '${a}' '${a}' '${a}' \r\n`);
    // The last one shown is cut to what is left of the 128 bytes.
    const b = 'b'.repeat(100);
    expect(errText(unknownCommandError(args('x', b, b)))).toBe(`-ERR unknown command 'x', with args beginning with: '${b}' '${'b'.repeat(25)}' \r\n`);
  });

  it('unknown command stops at NUL and blanks CR/LF like Redis', () => {
    expect(errText(unknownCommandError(args('P\0NG', 'a\0b')))).toBe("-ERR unknown command 'P', with args beginning with: 'a' \r\n");
    expect(errText(unknownCommandError(args('a\r\nb')))).toBe("-ERR unknown command 'a  b', with args beginning with: \r\n");
  });

  it('unknown subcommand names the container in upper case', () => {
    expect(errText(unknownSubcommandError(args('client', 'Foo', 'x')))).toBe("-ERR unknown subcommand 'Foo'. Try CLIENT HELP.\r\n");
  });
});

describe('keys', () => {
  it('finds key arguments from the key range', () => {
    const k = (...a: string[]) => keysOf(resolveCommand(args(...a))!, args(...a)).map(String);
    expect(k('get', 'a')).toEqual(['a']);
    expect(k('mset', 'a', '1', 'b', '2')).toEqual(['a', 'b']);
    expect(k('del', 'a', 'b', 'c')).toEqual(['a', 'b', 'c']);
    expect(k('mset', 'a', '1', 'b')).toEqual(['a', 'b']);
    expect(k('set', 'a', 'v', 'EX', '10')).toEqual(['a']);
    expect(k('ping')).toEqual([]);
    expect(k('client', 'setname', 'x')).toEqual([]);
    expect(k('publish', 'ch', 'msg')).toEqual([]);
  });

  it('routes by the first key, keyless commands to slot 0', () => {
    const set = COMMANDS.get('set')!;
    expect(commandSlot(set, args('set', '{user1}.a', 'v'))).toBe(keyHashSlot('user1'));
    expect(commandSlot(COMMANDS.get('flushall')!, args('flushall'))).toBe(0);
  });
});

describe('COMMAND replies', () => {
  it('COMMAND COUNT counts top-level commands', () => {
    expect(plain(commandCountReply())).toBe(142);
  });

  it('COMMAND INFO has the 10 fields', () => {
    expect(plain(commandInfoReply(COMMANDS.get('get')!))).toEqual([
      'get',
      2,
      ['readonly', 'fast'],
      1,
      1,
      1,
      ['@read', '@string', '@fast'],
      [],
      [
        {
          flags: ['RO', 'access'],
          begin_search: { type: 'index', spec: { index: 1 } },
          find_keys: { type: 'range', spec: { lastkey: 0, keystep: 1, limit: 0 } },
        },
      ],
      [],
    ]);
  });

  it('COMMAND INFO answers null for unknown names and nests subcommands', () => {
    const r = plain(commandInfoListReply(args('nope', 'client|id', 'config'))) as unknown[][];
    expect(r[0]).toBeNull();
    expect(r[1][0]).toBe('client|id');
    expect((r[2][9] as unknown[][]).map((s) => s[0])).toEqual(['config|get', 'config|set']);
  });

  it('COMMAND DOCS maps names to docs and skips unknown names', () => {
    const r = plain(commandDocsListReply(args('get', 'nope'))) as Record<string, Record<string, unknown>>;
    expect(Object.keys(r)).toEqual(['get']);
    expect(r.get).toEqual({
      summary: 'Get the value of a key',
      since: '1.0.0',
      group: 'string',
      complexity: 'O(1)',
      arguments: [{ name: 'key', type: 'key', key_spec_index: 0 }],
    });
    expect(Object.keys(plain(commandDocsListReply([])) as object)).toHaveLength(142);
  });
});
