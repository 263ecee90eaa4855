/**
 * CONFIG GET/SET over the settings RaftKV has, of two scopes:
 *  - cluster-wide (requirepass, maxmemory, maxmemory-policy): CONFIG SET validates them and
 *    proposes one CONFIG op through the log, so every replica applies them at the same index
 *    and they survive restarts, compaction and failovers. It answers +OK once applied here, and
 *    it is a write: a follower answers MOVED to the leader. A value set this way wins over the
 *    node's flag from then on (etcd's cluster-wide config); the flag only seeds a cluster that
 *    never set it. The node adopts applied values in node/settings.ts.
 *  - node-local (maxclients, ...): applied at once to the node the command is sent to, not
 *    replicated and not persisted (a restart reads the flags, environment and config file).
 * One CONFIG SET is all or nothing, as in Redis: every value is checked first, the cluster-wide
 * ones go in one entry, and the node-local ones apply once that entry has.
 */
import { isUtf8 } from 'node:buffer';
import { EVICTION_POLICIES, type EvictionPolicy, globMatch } from '../../kv/index.ts';
import { formatOutputLimits, type OutputLimits, parseMemory, parseOutputLimits } from '../../node/client-limits.ts';
import { parseBytesExact } from '../../node/units.ts';
import { R, type Reply } from '../reply.ts';
import { cstr, option, SYNTAX_ERROR } from './args.ts';
import { entryBytes, type LocalHandler, type NodeContext } from './context.ts';
import { runtimeErrorReply } from './runtime-errors.ts';

interface Param {
  get(ctx: NodeContext): string;
  /** Node-local: validates a value: a function that applies it, or why it is refused. */
  set?(ctx: NodeContext, value: string): (() => void) | string;
  /** Cluster-wide: validates a value into its canonical form for the log, or why it is refused. */
  replicated?(value: Buffer): Buffer | string;
}

/** memtoull (node/units.ts); an empty value is 0, as Redis's string2ull takes it. */
function memoryValue(s: string): bigint | null {
  return s === '' ? 0n : parseBytesExact(s);
}

function integer(s: string, min: number, max: number): number | string {
  if (!/^-?(0|[1-9]\d{0,18})$/.test(s)) return "argument couldn't be parsed into an integer";
  const n = Number(s);
  if (n < min || n > max) return `argument must be between ${min} and ${max} inclusive`;
  return n;
}

const PARAMS: Record<string, Param> = {
  maxmemory: {
    get: (ctx) => String(ctx.node.cfg.maxmemory),
    replicated: (v) => {
      // The exact integer memtoull gives, even past 2^53 (settings.ts parses it back).
      const n = memoryValue(v.toString('latin1'));
      return n === null ? 'argument must be a memory value' : Buffer.from(n.toString(), 'latin1');
    },
  },
  'maxmemory-policy': {
    get: (ctx) => ctx.node.cfg.maxmemoryPolicy,
    replicated: (v) => {
      const policy = v.toString('latin1').toLowerCase() as EvictionPolicy;
      if (!EVICTION_POLICIES.includes(policy)) {
        return `argument(s) must be one of the following: ${EVICTION_POLICIES.join(', ')}`;
      }
      return Buffer.from(policy, 'latin1');
    },
  },
  requirepass: {
    get: (ctx) => ctx.node.cfg.requirepass,
    // AUTH, HTTP auth and --requirepass all take the password as UTF-8 text (Redis: any bytes).
    replicated: (v) => (isUtf8(v) ? v : 'argument must be valid UTF-8'),
  },
  maxclients: {
    get: (ctx) => String(ctx.node.cfg.maxclients),
    set: (ctx, v) => {
      const n = integer(v, 1, 4294967295);
      if (typeof n === 'string') return n;
      return () => {
        ctx.node.cfg.maxclients = n;
        if (ctx.server) ctx.server.options.maxClients = n;
      };
    },
  },
  // Client memory and idle limits: node-local, as each node's clients are its own.
  'client-query-buffer-limit': {
    get: (ctx) => String(ctx.node.cfg.clientQueryBufferLimit),
    set: (ctx, v) => {
      const n = parseMemory(v);
      if (n === null) return 'argument must be a memory value';
      if (n < 1024 * 1024) return 'argument must be between 1048576 and 9007199254740991 inclusive';
      return () => {
        ctx.node.cfg.clientQueryBufferLimit = n;
        if (ctx.server) ctx.server.options.queryBufferLimit = n;
      };
    },
  },
  'client-output-buffer-limit': {
    get: (ctx) => formatOutputLimits(ctx.server?.options.outputLimits ?? (parseOutputLimits(ctx.node.cfg.clientOutputBufferLimit) as OutputLimits)),
    set: (ctx, v) => {
      const base = ctx.server?.options.outputLimits ?? (parseOutputLimits(ctx.node.cfg.clientOutputBufferLimit) as OutputLimits);
      const limits = parseOutputLimits(v, base);
      if (typeof limits === 'string') return limits;
      return () => {
        ctx.node.cfg.clientOutputBufferLimit = formatOutputLimits(limits);
        if (ctx.server) ctx.server.options.outputLimits = limits;
      };
    },
  },
  'maxmemory-clients': {
    get: (ctx) => String(ctx.node.cfg.maxmemoryClients),
    set: (ctx, v) => {
      const n = parseMemory(v);
      if (n === null) return 'argument must be a memory value';
      return () => {
        ctx.node.cfg.maxmemoryClients = n;
        if (ctx.server) ctx.server.options.maxMemoryClients = n;
      };
    },
  },
  timeout: {
    get: (ctx) => String(ctx.node.cfg.timeout),
    set: (ctx, v) => {
      const n = integer(v, 0, 2147483647);
      if (typeof n === 'string') return n;
      return () => {
        ctx.node.cfg.timeout = n;
        if (ctx.server) ctx.server.options.timeout = n;
      };
    },
  },
  port: { get: (ctx) => String(ctx.node.cfg.port) },
  bind: { get: (ctx) => ctx.node.cfg.host },
  databases: { get: () => '1' },
  'proto-max-bulk-len': { get: (ctx) => String(ctx.node.cfg.maxValueBytes) },
};

/** CONFIG GET pattern [pattern ...]: a map of every setting matching a glob, any case. */
export const configGet: LocalHandler = (ctx, _conn, argv) => {
  const patterns = argv.slice(2).map((p) => p.toString('latin1').toLowerCase());
  const out: [Reply, Reply][] = [];
  for (const [name, p] of Object.entries(PARAMS)) {
    if (patterns.some((pat) => globMatch(pat, name))) out.push([R.bulk(name), R.bulk(p.get(ctx))]);
  }
  return R.map(out);
};

/**
 * Which parameters of a CONFIG SET are cluster-wide (go through the log, so a follower must
 * send them to the leader) and which apply to this node only: 'replicated', 'local', or 'mixed'.
 * Unknown names count as local: the command fails here, as it would anywhere.
 */
export function configSetScope(argv: readonly Buffer[]): 'replicated' | 'local' | 'mixed' {
  let replicated = 0;
  let local = 0;
  for (let i = 2; i < argv.length; i += 2) {
    const name = option(argv[i]);
    if (Object.hasOwn(PARAMS, name) && PARAMS[name].replicated) replicated++;
    else local++;
  }
  return replicated === 0 ? 'local' : local === 0 ? 'replicated' : 'mixed';
}

/**
 * CONFIG SET name value [name value ...]: all or nothing, checked in Redis's order; the
 * cluster-wide parameters go through the log as one entry (see the top of this file).
 */
export const configSet: LocalHandler = (ctx, conn, argv) => {
  // The router checked the minimum (arity -4); an odd count past it is a syntax error.
  if (argv.length % 2 !== 0) return SYNTAX_ERROR;
  const failed = (arg: Buffer, why: string): Reply => R.error(`ERR CONFIG SET failed (possibly related to argument '${cstr(arg)}') - ${why}`);
  const seen = new Set<Param>();
  const chosen: [Buffer, Param, Buffer][] = [];
  for (let i = 2; i < argv.length; i += 2) {
    const name = option(argv[i]);
    const p = Object.hasOwn(PARAMS, name) ? PARAMS[name] : undefined;
    if (p === undefined) return R.error(`ERR Unknown option or number of arguments for CONFIG SET - '${cstr(argv[i])}'`);
    if (p.set === undefined && p.replicated === undefined) return failed(argv[i], "can't set immutable config");
    if (seen.has(p)) return failed(argv[i], 'duplicate parameter');
    seen.add(p);
    chosen.push([argv[i], p, argv[i + 1]]);
  }
  const apply: (() => void)[] = [];
  const pairs: [Buffer, Buffer][] = [];
  for (const [arg, p, value] of chosen) {
    if (p.replicated) {
      const canonical = p.replicated(value);
      if (typeof canonical === 'string') return failed(arg, canonical);
      pairs.push([Buffer.from(option(arg), 'latin1'), canonical]);
      continue;
    }
    const r = p.set?.(ctx, value.toString('latin1'));
    if (typeof r === 'string') return failed(arg, r);
    if (r) apply.push(r);
  }
  const applyLocal = (): Reply => {
    for (const f of apply) f();
    return R.OK;
  };
  if (pairs.length === 0) return applyLocal();
  const bytes = entryBytes(argv);
  if (bytes > ctx.maxEntryBytes) return ctx.entryTooBig(bytes);
  // Keyless, so a follower's MOVED names slot 0, as for FLUSHALL; on a multi-group node it goes
  // to group 0's leader, naming a slot that node serves.
  const slot = ctx.metadataOwner?.().slot ?? 0;
  return ctx.write(conn, [{ type: 'config', pairs }]).then(applyLocal, (err: unknown) => runtimeErrorReply(ctx.node, err, slot, conn.tls));
};
