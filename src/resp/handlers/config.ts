/**
 * CONFIG GET/SET over the settings RaftKV has. Changes apply to this node only and are not
 * persisted (a restart reads the flags, environment and config file again). maxmemory and the
 * eviction policy matter on the leader, which alone decides evictions and answers -OOM.
 */
import { EVICTION_POLICIES, type EvictionPolicy, globMatch } from '../../kv/index.ts';
import { formatOutputLimits, type OutputLimits, parseOutputLimits } from '../../node/client-limits.ts';
import { R, type Reply } from '../reply.ts';
import { cstr, option, SYNTAX_ERROR } from './args.ts';
import type { LocalHandler, NodeContext } from './context.ts';

interface Param {
  get(ctx: NodeContext): string;
  /** Validates a value: a function that applies it, or why it is refused. Absent: immutable. */
  set?(ctx: NodeContext, value: string): (() => void) | string;
}

/** memtoull: digits with an optional b/k/kb/m/mb/g/gb unit (k = 1000, kb = 1024). */
function memoryValue(s: string): number | null {
  const m = /^(\d*)(b|k|kb|m|mb|g|gb)?$/i.exec(s);
  if (!m || (m[1] === '' && m[2] !== undefined)) return null;
  const unit = (m[2] ?? 'b').toLowerCase();
  const mul = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[unit] ?? 1;
  const n = BigInt(m[1] === '' ? '0' : m[1]) * BigInt(mul);
  if (n >= 2n ** 64n) return null;
  return Number(n);
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
    set: (ctx, v) => {
      const n = memoryValue(v);
      if (n === null) return 'argument must be a memory value';
      return () => {
        ctx.node.cfg.maxmemory = n;
        ctx.node.kv.maxmemory = n;
      };
    },
  },
  'maxmemory-policy': {
    get: (ctx) => ctx.node.cfg.maxmemoryPolicy,
    set: (ctx, v) => {
      const policy = v.toLowerCase() as EvictionPolicy;
      if (!EVICTION_POLICIES.includes(policy)) {
        return `argument(s) must be one of the following: ${EVICTION_POLICIES.join(', ')}`;
      }
      return () => {
        ctx.node.cfg.maxmemoryPolicy = policy;
        ctx.node.kv.policy = policy;
      };
    },
  },
  requirepass: {
    get: (ctx) => ctx.node.cfg.requirepass,
    set: (ctx, v) => () => {
      ctx.node.cfg.requirepass = v;
    },
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
      const n = memoryValue(v);
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
      const n = memoryValue(v);
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

/** CONFIG SET name value [name value ...]: all or nothing, checked in Redis's order. */
export const configSet: LocalHandler = (ctx, _conn, argv) => {
  // The router checked the minimum (arity -4); an odd count past it is a syntax error.
  if (argv.length % 2 !== 0) return SYNTAX_ERROR;
  const failed = (arg: Buffer, why: string): Reply =>
    R.error(`ERR CONFIG SET failed (possibly related to argument '${cstr(arg)}') - ${why}`);
  const seen = new Set<Param>();
  const chosen: [Buffer, Param, string][] = [];
  for (let i = 2; i < argv.length; i += 2) {
    const p = PARAMS[option(argv[i])];
    if (p === undefined) return R.error(`ERR Unknown option or number of arguments for CONFIG SET - '${cstr(argv[i])}'`);
    if (p.set === undefined) return failed(argv[i], "can't set immutable config");
    if (seen.has(p)) return failed(argv[i], 'duplicate parameter');
    seen.add(p);
    chosen.push([argv[i], p, argv[i + 1].toString('latin1')]);
  }
  const apply: (() => void)[] = [];
  for (const [arg, p, value] of chosen) {
    const r = p.set?.(ctx, value);
    if (typeof r === 'string') return failed(arg, r);
    if (r) apply.push(r);
  }
  for (const f of apply) f();
  return R.OK;
};
