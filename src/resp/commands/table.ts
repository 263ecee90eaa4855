/**
 * The command table: every supported command with Redis 7.0's metadata (data/*.ts, generated
 * from a real redis-server), resolved into `CommandSpec`s, and a case-insensitive lookup that
 * works on the request's argument Buffers without building strings.
 */
import { CLUSTER_COMMANDS } from './data/cluster.ts';
import { CONNECTION_COMMANDS } from './data/connection.ts';
import { GENERIC_COMMANDS } from './data/generic.ts';
import { HASH_COMMANDS } from './data/hash.ts';
import { LIST_COMMANDS } from './data/list.ts';
import { PUBSUB_COMMANDS } from './data/pubsub.ts';
import { SERVER_COMMANDS } from './data/server.ts';
import { SET_COMMANDS } from './data/set.ts';
import { SORTED_SET_COMMANDS } from './data/sorted-set.ts';
import { STRING_COMMANDS } from './data/string.ts';
import { TRANSACTIONS_COMMANDS } from './data/transactions.ts';
import { COMMAND_FLAGS, type CommandData, type CommandFlag, type CommandSpec } from './spec.ts';

const DATA = {
  ...CONNECTION_COMMANDS,
  ...SERVER_COMMANDS,
  ...STRING_COMMANDS,
  ...GENERIC_COMMANDS,
  ...PUBSUB_COMMANDS,
  ...TRANSACTIONS_COMMANDS,
  ...CLUSTER_COMMANDS,
  ...HASH_COMMANDS,
  ...SET_COMMANDS,
  ...LIST_COMMANDS,
  ...SORTED_SET_COMMANDS,
} as const;

type Data = typeof DATA;

/** A top-level command name ("get", "client"). */
export type CommandName = keyof Data & string;

/** Full names of subcommands ("client|setname"). */
export type SubcommandName = {
  [K in CommandName]: Data[K] extends { readonly subcommands: infer S } ? `${K}|${keyof S & string}` : never;
}[CommandName];

/**
 * Every name a handler is registered under: each leaf command and subcommand, plus containers
 * that also run bare (only COMMAND, whose arity -1 allows no subcommand).
 */
export type HandlerName =
  | SubcommandName
  | {
      [K in CommandName]: Data[K] extends { readonly subcommands: object } ? (Data[K] extends { readonly arity: -1 } ? K : never) : K;
    }[CommandName];

/** Case-insensitive index over names, keyed by a hash of the lower-cased bytes. */
class NameIndex {
  private readonly buckets = new Map<number, { bytes: Buffer; spec: CommandSpec }[]>();
  readonly size: number;
  /** The last name found: a pipeline repeats one command, and comparing beats hashing. */
  private last: { bytes: Buffer; spec: CommandSpec } | null = null;

  constructor(specs: readonly CommandSpec[], nameOf: (s: CommandSpec) => string) {
    for (const spec of specs) {
      const bytes = Buffer.from(nameOf(spec));
      const h = hashLower(bytes);
      const bucket = this.buckets.get(h);
      if (bucket) bucket.push({ bytes, spec });
      else this.buckets.set(h, [{ bytes, spec }]);
    }
    this.size = specs.length;
  }

  get(name: Buffer): CommandSpec | null {
    const last = this.last;
    if (last !== null && equalsLower(name, last.bytes)) return last.spec;
    const bucket = this.buckets.get(hashLower(name));
    if (bucket === undefined) return null;
    for (const e of bucket) {
      if (equalsLower(name, e.bytes)) {
        this.last = e;
        return e.spec;
      }
    }
    return null;
  }
}

/** FNV-1a over ASCII-lower-cased bytes. */
function hashLower(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c | 0x20 : c), 0x01000193);
  }
  return h >>> 0;
}

/** `input` equals the lower-case `name`, ignoring ASCII case. */
function equalsLower(input: Uint8Array, name: Uint8Array): boolean {
  if (input.length !== name.length) return false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== name[i]) return false;
  }
  return true;
}

interface Resolved extends CommandSpec {
  readonly subIndex: NameIndex | null;
}

function resolve(name: string, data: CommandData, parent: CommandSpec | null): Resolved {
  const is = Object.fromEntries(COMMAND_FLAGS.map((f) => [f, data.flags.includes(f)])) as Record<CommandFlag, boolean>;
  const spec: { -readonly [K in keyof Resolved]: Resolved[K] } = {
    ...data,
    name,
    parent,
    subcommandList: [],
    is,
    subIndex: null,
  };
  if (data.subcommands) {
    spec.subcommandList = Object.entries(data.subcommands).map(([sub, d]) => resolve(`${name}|${sub}`, d, spec));
    spec.subIndex = new NameIndex(spec.subcommandList, (s) => s.name.slice(name.length + 1));
  }
  return spec;
}

const TOP: readonly Resolved[] = Object.entries(DATA).map(([name, d]) => resolve(name, d as CommandData, null));
const TOP_INDEX = new NameIndex(TOP, (s) => s.name);

/** Top-level commands in table order (the order COMMAND and COMMAND DOCS print them). */
export const COMMAND_LIST: readonly CommandSpec[] = TOP;

/** Every command and subcommand by full lower-case name. */
export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(
  TOP.flatMap((c) => [[c.name, c] as const, ...c.subcommandList.map((s) => [s.name, s] as const)]),
);

/** A top-level command by name, any case; null if unknown. No string is built. */
export function lookupCommand(name: Buffer | string): CommandSpec | null {
  return TOP_INDEX.get(typeof name === 'string' ? Buffer.from(name) : name);
}

/** A subcommand of `container` by its own name ("setname"), any case. */
export function lookupSubcommand(container: CommandSpec, name: Buffer | string): CommandSpec | null {
  const index = (container as Resolved).subIndex;
  if (index === null || index === undefined) return null;
  return index.get(typeof name === 'string' ? Buffer.from(name) : name);
}

/**
 * The command a request runs, as Redis's lookupCommand picks it: the container itself when it
 * has no subcommand argument, else the named subcommand (null if there is none by that name).
 */
export function resolveCommand(argv: readonly Buffer[]): CommandSpec | null {
  const base = TOP_INDEX.get(argv[0]) as Resolved | null;
  if (base === null || argv.length === 1 || base.subIndex === null) return base;
  return base.subIndex.get(argv[1]);
}

/** By full name as COMMAND INFO/DOCS take it ("get", "CLIENT|SETNAME"); null if unknown. */
export function lookupCommandByFullName(fullName: Buffer | string): CommandSpec | null {
  const name = typeof fullName === 'string' ? Buffer.from(fullName) : fullName;
  const bar = name.indexOf(0x7c);
  if (bar < 0) return TOP_INDEX.get(name);
  const base = TOP_INDEX.get(name.subarray(0, bar));
  return base === null ? null : lookupSubcommand(base, name.subarray(bar + 1));
}

/** Every handler name at run time (leaves, and containers that run bare), in table order. */
export const HANDLER_NAMES: readonly HandlerName[] = [...COMMANDS.values()]
  .filter((c) => c.subcommandList.length === 0 || c.arity === -1)
  .map((c) => c.name as HandlerName);
