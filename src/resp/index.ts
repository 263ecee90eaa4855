/**
 * The RESP front end's public surface: the server and its dispatcher contract, the per-connection
 * state, typed replies, the command table with its router, key slots, and the cluster view that
 * routes slots to Raft groups (cluster/).
 */
export { CurrentView, type GroupLayout, type Layout, LayoutError, LayoutView } from './cluster/layout-view.ts';
export { KEYLESS, requestSlot, transactionSlot } from './cluster/routing.ts';
export { SingleGroupView } from './cluster/single-group.ts';
export {
  type ClusterNode,
  type ClusterView,
  FIRST_DATA_GROUP,
  type GroupId,
  METADATA_GROUP,
  type Shard,
  type SlotOwner,
  type SlotRange,
} from './cluster/view.ts';
export {
  arityError,
  checkArity,
  execAbortError,
  NOAUTH_ERROR,
  pubsubContextError,
  unknownCommandError,
  unknownSubcommandError,
} from './commands/errors.ts';
export {
  commandCountReply,
  commandDocsListReply,
  commandDocsReply,
  commandInfoListReply,
  commandInfoReply,
  commandListReply,
} from './commands/introspection.ts';
export { commandSlot, keysOf } from './commands/keys.ts';
export {
  CommandRouter,
  discardTransaction,
  type Handler,
  type HandlerTable,
  type RouterHooks,
} from './commands/router.ts';
export { ERRORS, invalidExpireTime, movedError, unknownConfigOption } from './commands/shared-errors.ts';
export type { CommandFlag, CommandSpec } from './commands/spec.ts';
export {
  COMMAND_LIST,
  COMMANDS,
  type CommandName,
  HANDLER_NAMES,
  type HandlerName,
  lookupCommand,
  lookupCommandByFullName,
  lookupSubcommand,
  resolveCommand,
} from './commands/table.ts';
export { ClientConn, type ConnectionControl, type QueuedCommand } from './conn.ts';
export { DeferredReply, type DeferredReplyOwner } from './deferred-reply.ts';
export { encodeReply, formatDouble, ReplyWriter, type RespVersion } from './encoder.ts';
export * from './errors.ts';
export { DEFAULT_PARSER_LIMITS, type ParserLimits, RequestParser } from './parser.ts';
export { R, type Reply } from './reply.ts';
export { type Answer, type Dispatcher, RespServer, type RespServerOptions, type RespServerStats } from './server.ts';
export { crc16, keyHashSlot, SLOT_COUNT } from './slot.ts';
