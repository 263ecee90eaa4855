/**
 * Replies of COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS, shaped as Redis 7.0 shapes
 * them (commandInfo / addReplyCommandDocs in server.c), down to which lists are sets and which
 * arrays, so RESP3 clients see the same types. redis-cli 7 builds its hints from COMMAND DOCS,
 * and cluster clients read key positions from COMMAND INFO.
 *
 * Redis keeps subcommands in a hash table and prints them in random order; here they come in
 * table order.
 */
import { R, type Reply } from '../reply.ts';
import type { ArgSpec, BeginSearch, CommandDocs, CommandSpec, FindKeys, KeySpec } from './spec.ts';
import { COMMAND_LIST, lookupCommandByFullName } from './table.ts';

const bulk = (s: string): Reply => R.bulk(s);
const statusSet = (items: readonly string[]): Reply => R.set(items.map(R.simple));
const field = (name: string, value: Reply): readonly [Reply, Reply] => [bulk(name), value];
const intMap = (spec: object): Reply => R.map(Object.entries(spec).map(([k, v]) => field(k, typeof v === 'number' ? R.int(v) : bulk(String(v)))));

function searchReply(s: BeginSearch | FindKeys): Reply {
  return R.map([field('type', bulk(s.type)), field('spec', intMap(s.spec))]);
}

function keySpecReply(k: KeySpec): Reply {
  const fields: (readonly [Reply, Reply])[] = [];
  if (k.notes !== undefined) fields.push(field('notes', bulk(k.notes)));
  fields.push(field('flags', statusSet(k.flags)), field('begin_search', searchReply(k.begin_search)), field('find_keys', searchReply(k.find_keys)));
  return R.map(fields);
}

/** One command's 10-element COMMAND INFO entry. */
export function commandInfoReply(cmd: CommandSpec): Reply {
  const [first, last, step] = cmd.keys;
  return R.array([
    bulk(cmd.name),
    R.int(cmd.arity),
    statusSet(cmd.flags),
    R.int(first),
    R.int(last),
    R.int(step),
    statusSet(cmd.acl),
    R.set(cmd.tips.map(bulk)),
    R.set(cmd.key_specs.map(keySpecReply)),
    // Redis answers an empty set for a command without subcommands, an array otherwise.
    cmd.subcommandList.length === 0 ? R.set([]) : R.array(cmd.subcommandList.map(commandInfoReply)),
  ]);
}

function argReply(a: ArgSpec): Reply {
  const fields: (readonly [Reply, Reply])[] = [field('name', bulk(a.name)), field('type', bulk(a.type))];
  if (a.key_spec_index !== undefined) fields.push(field('key_spec_index', R.int(a.key_spec_index)));
  if (a.token !== undefined) fields.push(field('token', bulk(a.token)));
  if (a.summary !== undefined) fields.push(field('summary', bulk(a.summary)));
  if (a.since !== undefined) fields.push(field('since', bulk(a.since)));
  if (a.deprecated_since !== undefined) fields.push(field('deprecated_since', bulk(a.deprecated_since)));
  if (a.flags !== undefined) fields.push(field('flags', statusSet(a.flags)));
  if (a.arguments !== undefined) fields.push(field('arguments', R.array(a.arguments.map(argReply))));
  return R.map(fields);
}

/** One command's COMMAND DOCS map. */
export function commandDocsReply(cmd: CommandSpec): Reply {
  const d: CommandDocs = cmd.docs;
  const fields: (readonly [Reply, Reply])[] = [field('summary', bulk(d.summary)), field('since', bulk(d.since)), field('group', bulk(d.group))];
  if (d.complexity !== undefined) fields.push(field('complexity', bulk(d.complexity)));
  if (d.doc_flags !== undefined) fields.push(field('doc_flags', statusSet(d.doc_flags)));
  if (d.deprecated_since !== undefined) fields.push(field('deprecated_since', bulk(d.deprecated_since)));
  if (d.replaced_by !== undefined) fields.push(field('replaced_by', bulk(d.replaced_by)));
  if (d.history !== undefined) {
    fields.push(field('history', R.set(d.history.map(([v, text]) => R.array([bulk(v), bulk(text)])))));
  }
  if (d.arguments !== undefined) fields.push(field('arguments', R.array(d.arguments.map(argReply))));
  if (cmd.subcommandList.length > 0) {
    fields.push(field('subcommands', R.map(cmd.subcommandList.map((s) => field(s.name, commandDocsReply(s))))));
  }
  return R.map(fields);
}

/** `COMMAND`: every top-level command's info. */
export function commandListReply(): Reply {
  return R.array(COMMAND_LIST.map(commandInfoReply));
}

/** `COMMAND COUNT`: the number of top-level commands. */
export function commandCountReply(): Reply {
  return R.int(COMMAND_LIST.length);
}

/** `COMMAND INFO [name ...]`: all commands when no name is given; null for an unknown name. */
export function commandInfoListReply(names: readonly Buffer[]): Reply {
  if (names.length === 0) return commandListReply();
  return R.array(
    names.map((n) => {
      const cmd = lookupCommandByFullName(n);
      return cmd === null ? R.NULL : commandInfoReply(cmd);
    }),
  );
}

/** `COMMAND DOCS [name ...]`: a map of name to docs; unknown names are left out. */
export function commandDocsListReply(names: readonly Buffer[]): Reply {
  const cmds = names.length === 0 ? COMMAND_LIST : names.map((n) => lookupCommandByFullName(n)).filter((c): c is CommandSpec => c !== null);
  return R.map(cmds.map((c) => field(c.name, commandDocsReply(c))));
}
