/**
 * The shape of one command's metadata: exactly what Redis 7.0 reports in `COMMAND INFO` and
 * `COMMAND DOCS`, so the table can be checked against a real redis-server and clients that
 * introspect the server (redis-cli hints, cluster clients) see what they expect.
 *
 * Names follow Redis's own reply fields; the order of every list is the order Redis prints.
 */

/** COMMAND INFO flags, in Redis's print order. */
export const COMMAND_FLAGS = [
  'write',
  'readonly',
  'denyoom',
  'module',
  'admin',
  'pubsub',
  'noscript',
  'blocking',
  'loading',
  'stale',
  'skip_monitor',
  'skip_slowlog',
  'asking',
  'fast',
  'no_auth',
  'no_mandatory_keys',
  'no_async_loading',
  'no_multi',
  'movablekeys',
  'allow_busy',
] as const;
export type CommandFlag = (typeof COMMAND_FLAGS)[number];

/** ACL categories, in Redis's print order (acl.c). */
export const ACL_CATEGORIES = [
  '@keyspace',
  '@read',
  '@write',
  '@set',
  '@sortedset',
  '@list',
  '@hash',
  '@string',
  '@bitmap',
  '@hyperloglog',
  '@geo',
  '@stream',
  '@pubsub',
  '@admin',
  '@fast',
  '@slow',
  '@blocking',
  '@dangerous',
  '@connection',
  '@transaction',
  '@scripting',
] as const;
export type AclCategory = (typeof ACL_CATEGORIES)[number];

export const KEY_SPEC_FLAGS = ['RO', 'RW', 'OW', 'RM', 'access', 'update', 'insert', 'delete', 'not_key', 'incomplete', 'variable_flags'] as const;
export type KeySpecFlag = (typeof KEY_SPEC_FLAGS)[number];

export const ARG_TYPES = ['string', 'integer', 'double', 'key', 'pattern', 'unix-time', 'pure-token', 'oneof', 'block'] as const;
export type ArgType = (typeof ARG_TYPES)[number];

export const ARG_FLAGS = ['optional', 'multiple', 'multiple_token'] as const;
export type ArgFlag = (typeof ARG_FLAGS)[number];

export const DOC_FLAGS = ['deprecated', 'syscmd'] as const;
export type DocFlag = (typeof DOC_FLAGS)[number];

export const COMMAND_GROUPS = [
  'generic',
  'string',
  'list',
  'set',
  'sorted-set',
  'hash',
  'pubsub',
  'transactions',
  'connection',
  'server',
  'scripting',
  'hyperloglog',
  'cluster',
  'sentinel',
  'geo',
  'stream',
  'bitmap',
  'module',
] as const;
export type CommandGroup = (typeof COMMAND_GROUPS)[number];

export type BeginSearch =
  | { readonly type: 'index'; readonly spec: { readonly index: number } }
  | { readonly type: 'keyword'; readonly spec: { readonly keyword: string; readonly startfrom: number } }
  | { readonly type: 'unknown'; readonly spec: Readonly<Record<string, never>> };

export type FindKeys =
  | { readonly type: 'range'; readonly spec: { readonly lastkey: number; readonly keystep: number; readonly limit: number } }
  | {
      readonly type: 'keynum';
      readonly spec: { readonly keynumidx: number; readonly firstkey: number; readonly keystep: number };
    }
  | { readonly type: 'unknown'; readonly spec: Readonly<Record<string, never>> };

export interface KeySpec {
  readonly notes?: string;
  readonly flags: readonly KeySpecFlag[];
  readonly begin_search: BeginSearch;
  readonly find_keys: FindKeys;
}

export interface ArgSpec {
  readonly name: string;
  readonly type: ArgType;
  readonly key_spec_index?: number;
  readonly token?: string;
  readonly summary?: string;
  readonly since?: string;
  readonly deprecated_since?: string;
  readonly flags?: readonly ArgFlag[];
  readonly arguments?: readonly ArgSpec[];
}

export interface CommandDocs {
  readonly summary: string;
  readonly since: string;
  readonly group: CommandGroup;
  readonly complexity?: string;
  readonly doc_flags?: readonly DocFlag[];
  readonly deprecated_since?: string;
  readonly replaced_by?: string;
  readonly history?: readonly (readonly [string, string])[];
  readonly arguments?: readonly ArgSpec[];
}

/** One entry of the table as written in the data files. */
export interface CommandData {
  /** Fixed argument count including the name when positive; a minimum when negative. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  /** Legacy key positions: first key, last key (negative counts from the end), step. */
  readonly keys: readonly [number, number, number];
  readonly acl: readonly AclCategory[];
  readonly tips: readonly string[];
  readonly key_specs: readonly KeySpec[];
  readonly docs: CommandDocs;
  readonly subcommands?: Readonly<Record<string, CommandData>>;
}

/** A resolved command: its data plus the names Redis prints for it. */
export interface CommandSpec extends CommandData {
  /** Lower-case full name: "get", or "client|setname" for a subcommand. */
  readonly name: string;
  /** The container for a subcommand ("client"), else null. */
  readonly parent: CommandSpec | null;
  readonly subcommandList: readonly CommandSpec[];
  /** Flag lookups the router makes on every request. */
  readonly is: Readonly<Record<CommandFlag, boolean>>;
}
