/**
 * Error replies command handlers share, worded as redis-server 7.0 words them (its `shared.*`
 * objects and common addReplyError texts), plus the Redis Cluster redirections. Checked
 * against a real redis-server in test/resp/redis-compat.test.ts.
 */
import { R, type Reply } from '../reply.ts';

export const ERRORS = {
  WRONGTYPE: R.error('WRONGTYPE Operation against a key holding the wrong kind of value'),
  SYNTAX: R.error('ERR syntax error'),
  NOT_INTEGER: R.error('ERR value is not an integer or out of range'),
  NOT_FLOAT: R.error('ERR value is not a valid float'),
  OVERFLOW: R.error('ERR increment or decrement would overflow'),
  DECREMENT_OVERFLOW: R.error('ERR decrement would overflow'),
  DB_INDEX: R.error('ERR DB index is out of range'),
  INVALID_CURSOR: R.error('ERR invalid cursor'),
  EXPIRE_NX_XX: R.error('ERR NX and XX, GT or LT options at the same time are not compatible'),
  EXPIRE_GT_LT: R.error('ERR GT and LT options at the same time are not compatible'),
  WRONGPASS: R.error('WRONGPASS invalid username-password pair or user is disabled.'),
  AUTH_NOT_CONFIGURED: R.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?'),
  NOPROTO: R.error('NOPROTO unsupported protocol version'),
  PROTO_NOT_INTEGER: R.error('ERR Protocol version is not an integer or out of range'),
  CLIENT_NAME: R.error('ERR Client names cannot contain spaces, newlines or special characters.'),
  MULTI_NESTED: R.error('ERR MULTI calls can not be nested'),
  EXEC_WITHOUT_MULTI: R.error('ERR EXEC without MULTI'),
  DISCARD_WITHOUT_MULTI: R.error('ERR DISCARD without MULTI'),
  WATCH_IN_MULTI: R.error('ERR WATCH inside MULTI is not allowed'),
  EXECABORT: R.error('EXECABORT Transaction discarded because of previous errors.'),
  OOM: R.error("OOM command not allowed when used memory > 'maxmemory'."),
  NOAUTH: R.error('NOAUTH Authentication required.'),
  /** What issue 4 answers on a node that knows no leader. */
  CLUSTERDOWN_NO_LEADER: R.error('CLUSTERDOWN No leader elected'),
} as const;

/** `ERR invalid expire time in 'set' command` (the command's name, lower case). */
export function invalidExpireTime(command: string): Reply {
  return R.error(`ERR invalid expire time in '${command}' command`);
}

/** `ERR Unknown option or number of arguments for CONFIG SET - 'name'`. */
export function unknownConfigOption(name: string): Reply {
  return R.error(`ERR Unknown option or number of arguments for CONFIG SET - '${name}'`);
}

/** `MOVED <slot> <host>:<port>`: the key's slot is served at that address (the leader). */
export function movedError(slot: number, host: string, port: number): Reply {
  return R.error(`MOVED ${slot} ${host}:${port}`);
}
