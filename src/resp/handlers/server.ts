/** Server commands: COMMAND (and COUNT/INFO/DOCS), CONFIG GET/SET, INFO and TIME. */
import { commandCountReply, commandDocsListReply, commandInfoListReply, commandListReply } from '../commands/introspection.ts';
import { R } from '../reply.ts';
import { configGet, configSet } from './config.ts';
import { type CommandImpl, local } from './context.ts';
import { info } from './info.ts';

/** TIME: Unix seconds and microseconds, as two bulk strings. */
function time(): ReturnType<typeof R.array> {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return R.array([R.bulk(String(Math.floor(us / 1e6))), R.bulk(String(us % 1e6))]);
}

export const SERVER_COMMANDS = {
  command: local(() => commandListReply()),
  'command|count': local(() => commandCountReply()),
  'command|info': local((_ctx, _conn, argv) => commandInfoListReply(argv.slice(2))),
  'command|docs': local((_ctx, _conn, argv) => commandDocsListReply(argv.slice(2))),
  'config|get': local(configGet),
  'config|set': local(configSet),
  info: local(info),
  time: local(time),
} as const satisfies Record<string, CommandImpl>;
