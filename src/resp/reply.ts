/**
 * The typed reply a command handler returns. One value describes the reply for both protocol
 * versions; the encoder picks the wire form from the connection's `HELLO` version, the way
 * Redis's addReply* functions do (a map is a flat array in RESP2, a double a bulk string, ...).
 *
 * Strings are written as UTF-8; use a Buffer for binary data. Replies are plain immutable data
 * and may be shared, so the constants below are safe to return from any handler.
 */

export type Reply =
  /** `+OK`. Must not contain CR or LF (they are replaced by spaces if it does). */
  | { readonly t: 'simple'; readonly v: string }
  /** `-ERR ...`: the full text after `-`, error code included ("WRONGTYPE ...", "MOVED 1 h:p"). */
  | { readonly t: 'error'; readonly v: string | Buffer }
  | { readonly t: 'int'; readonly v: number | bigint }
  | { readonly t: 'bulk'; readonly v: Buffer | string }
  /**
   * A bulk string given as a binary string (one char per byte, the form the keyspace keeps):
   * the reply holds the stored value itself, and the bytes are copied only when written.
   */
  | { readonly t: 'binary'; readonly v: string }
  /** A missing value: `$-1` in RESP2, `_` in RESP3. */
  | { readonly t: 'null' }
  /** A missing aggregate (EXEC aborted by WATCH): `*-1` in RESP2, `_` in RESP3. */
  | { readonly t: 'nullArray' }
  | { readonly t: 'array'; readonly v: readonly Reply[] }
  /** RESP3 `%`; in RESP2 a flat array of key, value, key, value. */
  | { readonly t: 'map'; readonly v: readonly (readonly [Reply, Reply])[] }
  /**
   * Pairs that may repeat (HRANDFIELD ... WITHVALUES): RESP3 an array of two-element arrays,
   * RESP2 a flat array, as Redis 7.0 sends them.
   */
  | { readonly t: 'pairs'; readonly v: readonly (readonly [Reply, Reply])[] }
  /** RESP3 `~`; in RESP2 an array. */
  | { readonly t: 'set'; readonly v: readonly Reply[] }
  /** RESP3 `,`; in RESP2 a bulk string formatted like Redis 7.0 (`%.17g`). */
  | { readonly t: 'double'; readonly v: number }
  /** RESP3 `#t`/`#f`; in RESP2 the integer 1/0. */
  | { readonly t: 'bool'; readonly v: boolean }
  /** RESP3 `=` with a 3-letter format ("txt"); in RESP2 a plain bulk string. */
  | { readonly t: 'verbatim'; readonly format: string; readonly v: Buffer | string }
  /** RESP3 `>` (out-of-band pub/sub message); in RESP2 an array. */
  | { readonly t: 'push'; readonly v: readonly Reply[] }
  /**
   * One reply already encoded, relayed as is: the leader's answer to a command a follower
   * forwarded (src/resp/proxy/), encoded there in this connection's protocol version.
   */
  | { readonly t: 'raw'; readonly v: Buffer }
  /**
   * Several consecutive replies to one request, as SUBSCRIBE a b c confirms each channel
   * separately. Only valid at the top level, never inside an aggregate.
   */
  | { readonly t: 'many'; readonly v: readonly Reply[] };

export type ReplyType = Reply['t'];

/** Reply constructors and shared constants. */
export const R = {
  OK: { t: 'simple', v: 'OK' } as Reply,
  PONG: { t: 'simple', v: 'PONG' } as Reply,
  QUEUED: { t: 'simple', v: 'QUEUED' } as Reply,
  NULL: { t: 'null' } as Reply,
  NULL_ARRAY: { t: 'nullArray' } as Reply,
  ZERO: { t: 'int', v: 0 } as Reply,
  ONE: { t: 'int', v: 1 } as Reply,
  EMPTY_ARRAY: { t: 'array', v: [] } as Reply,
  simple: (v: string): Reply => ({ t: 'simple', v }),
  /** `text` includes the error code: `R.error('ERR syntax error')`. */
  error: (text: string | Buffer): Reply => ({ t: 'error', v: text }),
  int: (v: number | bigint): Reply => ({ t: 'int', v }),
  bulk: (v: Buffer | string): Reply => ({ t: 'bulk', v }),
  binary: (v: string): Reply => ({ t: 'binary', v }),
  /** A bulk string, or a null reply for a missing value. */
  bulkOrNull: (v: Buffer | string | null | undefined): Reply => (v == null ? R.NULL : { t: 'bulk', v }),
  array: (v: readonly Reply[]): Reply => ({ t: 'array', v }),
  /** An array of bulk strings. */
  bulks: (v: readonly (Buffer | string)[]): Reply => ({ t: 'array', v: v.map((x) => ({ t: 'bulk', v: x })) }),
  map: (v: readonly (readonly [Reply, Reply])[]): Reply => ({ t: 'map', v }),
  pairs: (v: readonly (readonly [Reply, Reply])[]): Reply => ({ t: 'pairs', v }),
  set: (v: readonly Reply[]): Reply => ({ t: 'set', v }),
  double: (v: number): Reply => ({ t: 'double', v }),
  bool: (v: boolean): Reply => ({ t: 'bool', v }),
  verbatim: (v: Buffer | string, format = 'txt'): Reply => ({ t: 'verbatim', format, v }),
  push: (v: readonly Reply[]): Reply => ({ t: 'push', v }),
  many: (v: readonly Reply[]): Reply => ({ t: 'many', v }),
  raw: (v: Buffer): Reply => ({ t: 'raw', v }),
} as const;
