/**
 * Regenerates src/resp/commands/data/*.ts from a live redis-server, so the table says exactly
 * what Redis 7 says in COMMAND INFO and COMMAND DOCS.
 *
 *   redis-server --port 7379 --bind 127.0.0.1 --save '' --appendonly no &
 *   npx tsx test/resp/tools/gen-command-table.ts 7379
 *
 * The command list below is the supported set (issue 4, issue 13's sharded pub/sub and slot
 * introspection, issue 14's collection types); it is the only hand-written input.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Reply } from '../../../src/resp/reply.ts';
import { RawClient } from '../support/client.ts';

const SUPPORTED: Record<string, readonly string[]> = {
  ping: [],
  echo: [],
  quit: [],
  reset: [],
  hello: [],
  auth: [],
  select: [],
  client: ['setname', 'getname', 'id', 'info', 'list', 'no-evict'],
  command: ['count', 'info', 'docs'],
  config: ['get', 'set'],
  info: [],
  dbsize: [],
  time: [],
  set: [],
  get: [],
  getdel: [],
  getex: [],
  setex: [],
  psetex: [],
  setnx: [],
  mset: [],
  msetnx: [],
  mget: [],
  del: [],
  unlink: [],
  exists: [],
  type: [],
  strlen: [],
  append: [],
  incr: [],
  decr: [],
  incrby: [],
  decrby: [],
  incrbyfloat: [],
  expire: [],
  pexpire: [],
  expireat: [],
  pexpireat: [],
  ttl: [],
  pttl: [],
  expiretime: [],
  pexpiretime: [],
  persist: [],
  keys: [],
  scan: [],
  randomkey: [],
  flushall: [],
  flushdb: [],
  publish: [],
  spublish: [],
  subscribe: [],
  unsubscribe: [],
  psubscribe: [],
  punsubscribe: [],
  ssubscribe: [],
  sunsubscribe: [],
  pubsub: ['channels', 'numsub', 'numpat', 'shardchannels', 'shardnumsub'],
  multi: [],
  exec: [],
  discard: [],
  watch: [],
  unwatch: [],
  readonly: [],
  readwrite: [],
  cluster: ['slots', 'shards', 'nodes', 'info', 'myid', 'keyslot', 'countkeysinslot', 'getkeysinslot'],
  object: ['encoding'],
  rename: [],
  renamenx: [],
  copy: [],
  hset: [],
  hsetnx: [],
  hmset: [],
  hget: [],
  hmget: [],
  hgetall: [],
  hdel: [],
  hexists: [],
  hlen: [],
  hkeys: [],
  hvals: [],
  hstrlen: [],
  hincrby: [],
  hincrbyfloat: [],
  hrandfield: [],
  hscan: [],
  sadd: [],
  srem: [],
  smembers: [],
  sismember: [],
  smismember: [],
  scard: [],
  spop: [],
  srandmember: [],
  smove: [],
  sinter: [],
  sintercard: [],
  sunion: [],
  sdiff: [],
  sinterstore: [],
  sunionstore: [],
  sdiffstore: [],
  sscan: [],
  lpush: [],
  rpush: [],
  lpushx: [],
  rpushx: [],
  lpop: [],
  rpop: [],
  llen: [],
  lrange: [],
  lindex: [],
  lset: [],
  lrem: [],
  ltrim: [],
  linsert: [],
  lpos: [],
  lmove: [],
  rpoplpush: [],
  lmpop: [],
  zadd: [],
  zincrby: [],
  zscore: [],
  zmscore: [],
  zcard: [],
  zcount: [],
  zrank: [],
  zrevrank: [],
  zrem: [],
  zpopmin: [],
  zpopmax: [],
  zmpop: [],
  zrange: [],
  zrangebyscore: [],
  zrevrangebyscore: [],
  zrangebylex: [],
  zrevrangebylex: [],
  zrevrange: [],
  zrangestore: [],
  zlexcount: [],
  zremrangebyrank: [],
  zremrangebyscore: [],
  zremrangebylex: [],
};

function str(r: Reply): string {
  if (r.t === 'bulk' || r.t === 'simple' || r.t === 'verbatim') return r.v.toString();
  throw new Error(`expected a string reply, got ${r.t}`);
}
function num(r: Reply): number {
  if (r.t === 'int') return Number(r.v);
  throw new Error(`expected an integer, got ${r.t}`);
}
function list(r: Reply): readonly Reply[] {
  if (r.t === 'array' || r.t === 'set') return r.v;
  throw new Error(`expected an aggregate, got ${r.t}`);
}
function entries(r: Reply): [string, Reply][] {
  if (r.t !== 'map') throw new Error(`expected a map, got ${r.t}`);
  return r.v.map(([k, v]) => [str(k), v]);
}

/** Converts a decoded reply into plain data, maps becoming ordered objects. */
function toData(r: Reply): unknown {
  switch (r.t) {
    case 'map':
      return Object.fromEntries(entries(r).map(([k, v]) => [k, toData(v)]));
    case 'array':
    case 'set':
      return r.v.map(toData);
    case 'int':
      return Number(r.v);
    default:
      return str(r);
  }
}

interface Entry {
  arity: number;
  flags: unknown;
  keys: [number, number, number];
  acl: unknown;
  tips: unknown;
  key_specs: unknown;
  docs: Record<string, unknown>;
  subcommands?: Record<string, Entry>;
}

const DOC_KEYS = ['summary', 'since', 'group', 'complexity', 'doc_flags', 'deprecated_since', 'replaced_by', 'history', 'arguments', 'subcommands'];

function build(info: Reply, docs: Reply, wantedSubs: readonly string[]): Entry {
  const [, arity, flags, first, last, step, acl, tips, keySpecs, subInfos] = list(info);
  const docMap = Object.fromEntries(entries(docs));
  const doc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(docMap)) {
    if (!DOC_KEYS.includes(k)) throw new Error(`unknown COMMAND DOCS field ${k}`);
    if (k !== 'subcommands') doc[k] = toData(v);
  }
  const entry: Entry = {
    arity: num(arity),
    flags: toData(flags),
    keys: [num(first), num(last), num(step)],
    acl: toData(acl),
    tips: toData(tips),
    key_specs: toData(keySpecs),
    docs: doc,
  };
  if (wantedSubs.length > 0) {
    const infoByName = new Map(list(subInfos).map((s) => [str(list(s)[0]), s]));
    const docsByName = new Map(entries(docMap.subcommands));
    entry.subcommands = {};
    for (const sub of wantedSubs) {
      const full = `${str(list(info)[0])}|${sub}`;
      const si = infoByName.get(full);
      const sd = docsByName.get(full);
      if (!si || !sd) throw new Error(`redis has no ${full}`);
      entry.subcommands[sub] = build(si, sd, []);
    }
  }
  return entry;
}

function ts(value: unknown, indent: string): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const flat = `[${value.map((v) => ts(v, inner)).join(', ')}]`;
    if (flat.length + indent.length < 100 && !flat.includes('\n')) return flat;
    return `[\n${value.map((v) => `${inner}${ts(v, inner)},`).join('\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value).map(([k, v]) => {
      const key = /^[a-z_][a-z0-9_]*$/i.test(k) ? k : `'${k}'`;
      return `${key}: ${ts(v, inner)}`;
    });
    if (parts.length === 0) return '{}';
    const flat = `{ ${parts.join(', ')} }`;
    if (flat.length + indent.length < 100 && !flat.includes('\n')) return flat;
    return `{\n${parts.map((p) => `${inner}${p},`).join('\n')}\n${indent}}`;
  }
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return String(value);
}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 7379);
  const conn = await RawClient.connect(port);
  await conn.call('HELLO', '3');
  const byGroup = new Map<string, [string, Entry][]>();
  for (const [name, subs] of Object.entries(SUPPORTED)) {
    const info = list(await conn.call('COMMAND', 'INFO', name))[0];
    const docs = entries(await conn.call('COMMAND', 'DOCS', name))[0][1];
    const entry = build(info, docs, subs);
    const group = String(entry.docs.group);
    byGroup.set(group, [...(byGroup.get(group) ?? []), [name, entry]]);
  }
  conn.close();
  const dir = fileURLToPath(new URL('../../../src/resp/commands/data/', import.meta.url));
  for (const [group, cmds] of byGroup) {
    const constName = `${group.toUpperCase().replace(/-/g, '_')}_COMMANDS`;
    const body = cmds.map(([name, e]) => `  ${/^[a-z]+$/.test(name) ? name : `'${name}'`}: ${ts(e, '  ')},`).join('\n');
    const text = [
      `// Generated by test/resp/tools/gen-command-table.ts from redis-server's COMMAND INFO and`,
      '// COMMAND DOCS (Redis 7.0). Edit the generator, not this file.',
      `import type { CommandData } from '../spec.ts';`,
      '',
      `export const ${constName} = {`,
      body,
      '} as const satisfies Record<string, CommandData>;',
      '',
    ].join('\n');
    writeFileSync(`${dir}${group}.ts`, text);
    console.log(`${group}: ${cmds.length} commands`);
  }
}

await main();
