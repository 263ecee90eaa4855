/**
 * The incremental request parser: RESP2 multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
 * commands (`GET k\n`, so telnet and nc work), fed socket chunks split at any byte.
 *
 * It follows redis-server 7.0's processMultibulkBuffer/processInlineBuffer, quirks included,
 * because clients and the differential tests see the difference:
 * - the byte after a header's `\r` and the two bytes after a bulk body are skipped unchecked;
 * - a request whose first byte is not `*` is inline; an inline line ends at `\n`, a preceding
 *   `\r` is dropped, empty lines and `*0`/`*-1` requests are skipped;
 * - Redis scans header lines as C strings, so a NUL byte before the terminator means "no line
 *   yet": the request waits and then fails as too big.
 *
 * Hot path: a chunk holding whole requests is parsed in place; every argument is a zero-copy
 * `subarray` of that chunk (a command name repeated from the previous request is that
 * request's name Buffer). Only a line or bulk body cut by a chunk boundary is copied, once.
 *
 * Memory: nothing is allocated for what a header only declares. A count that could not fit
 * one request (`maxRequestBytes`, one log entry) is refused as soon as its line arrives, and a
 * body cut by chunk boundaries is gathered from the chunks as they come, then joined. What the
 * parser holds is reported as Redis does in CLIENT LIST: `qbuf` (bytes not yet turned into
 * arguments) and `argv-mem` (the arguments of the request in progress, each with its object's
 * overhead), and both count against client-query-buffer-limit.
 */
import {
  BulkCountTooBigError,
  ExpectedDollarError,
  InlineTooBigError,
  InvalidBulkLengthError,
  InvalidMultibulkLengthError,
  MultibulkCountTooBigError,
  type ProtocolError,
  QueryBufferLimitError,
  UnauthenticatedBulkLengthError,
  UnauthenticatedMultibulkLengthError,
  UnbalancedQuotesError,
} from './errors.ts';
import { splitInlineArgs } from './inline.ts';

export interface ParserLimits {
  /** proto-max-bulk-len: the largest single argument, in bytes. */
  maxBulkLen: number;
  /** The most arguments in one request (Redis 7.0 accepts up to INT_MAX). */
  maxMultibulkLen: number;
  /** PROTO_INLINE_MAX_SIZE: the longest inline request or header line. */
  maxInlineLen: number;
  /** client-query-buffer-limit: the most bytes held for requests not yet complete. */
  queryBufferLimit: number;
  /**
   * The largest request, counted as a log entry counts it (each argument's length plus
   * REQUEST_ARG_BYTES): a multibulk count that cannot fit is refused at its header.
   */
  maxRequestBytes: number;
}

export const DEFAULT_PARSER_LIMITS: Readonly<ParserLimits> = {
  maxBulkLen: 512 * 1024 * 1024,
  maxMultibulkLen: 2 ** 31 - 1,
  maxInlineLen: 64 * 1024,
  queryBufferLimit: 1024 * 1024 * 1024,
  maxRequestBytes: Number.POSITIVE_INFINITY,
};

/** What each argument adds to a request's size in a log entry (see handlers/context.ts entryBytes). */
export const REQUEST_ARG_BYTES = 8;

/**
 * argv-mem's charge per argument on top of its bytes: a Buffer view is about 100 bytes of heap
 * with its array slot (measured on Node 20 x86_64, 1M `subarray`s: 106 bytes each), rounded up
 * so that the accounted size is never below what the heap holds.
 */
export const ARG_OVERHEAD = 128;

/** Redis's caps on a client that still has to AUTH (networking.c). */
const UNAUTH_MAX_MULTIBULK = 10;
const UNAUTH_MAX_BULK = 16384;

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const EMPTY = Buffer.alloc(0);

const Mode = { Idle: 0, Inline: 1, Count: 2, BulkHeader: 3, BulkBody: 4 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

/** Index of `term` at or after `from`; -1 if absent; -2 if a NUL byte comes first. */
function scanLine(buf: Buffer, from: number, term: number): number {
  for (let i = from; i < buf.length; i++) {
    const b = buf[i];
    if (b === term) return i;
    if (b === 0) return -2;
  }
  return -1;
}

/**
 * Redis's string2ll: an optional `-`, then digits without leading zeros or `+`, at most 20
 * characters, within a signed 64-bit integer. Returns null when invalid. Values beyond 2^53
 * come back rounded, which is harmless: every limit compared against them is far smaller.
 */
function parseLongLong(buf: Buffer, start: number, end: number): number | null {
  const len = end - start;
  if (len === 0 || len >= 21) return null;
  if (len === 1 && buf[start] === 0x30) return 0;
  let p = start;
  const negative = buf[p] === 0x2d;
  if (negative && ++p === end) return null;
  if (buf[p] < 0x31 || buf[p] > 0x39) return null;
  let v = 0;
  for (; p < end; p++) {
    const d = buf[p] - 0x30;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  if (len >= 16) {
    const exact = BigInt(buf.toString('latin1', start, end));
    if (exact > 9223372036854775807n || exact < -9223372036854775808n) return null;
  }
  return negative ? -v : v;
}

export class RequestParser {
  /** Set while the connection still has to AUTH: Redis then caps request sizes. */
  unauthenticated = false;

  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private buf: Buffer = EMPTY;
  private pos = 0;
  private mode: Mode = Mode.Idle;
  private failure: ProtocolError | null = null;

  // A line cut by a chunk boundary: its bytes so far (unless blocked by a NUL, when only the
  // count matters), and whether its `\r` came last so the next byte must be skipped.
  private lineActive = false;
  private lineBlocked = false;
  private lineLen = 0;
  private lineSkip = false;
  private acc: Buffer = EMPTY;
  // The complete line just read.
  private lineBuf: Buffer = EMPTY;
  private lineStart = 0;
  private lineEnd = 0;

  /** The last command name seen, copied: repeated names share it instead of a new view each. */
  private lastName: Buffer = EMPTY;

  // The multibulk request in progress.
  private argv: Buffer[] = [];
  private argsLeft = 0;
  private argBytes = 0;
  private bulkLen = 0;
  /** Pieces of a body cut by chunk boundaries (views on the chunks), joined once complete. */
  private bodyParts: Buffer[] | null = null;
  private bodyFilled = 0;
  private trailerLeft = 0;

  /** A copy of the limits given; the connection updates `queryBufferLimit` on CONFIG SET. */
  readonly limits: ParserLimits;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_PARSER_LIMITS, ...limits };
  }

  /**
   * Queues received bytes. The parser keeps a reference to `chunk` (arguments are views on it),
   * so the caller must not reuse it: socket 'data' chunks are fresh and safe to pass.
   * @throws QueryBufferLimitError when the bytes held for unfinished requests pass the limit.
   */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    const held = this.bufferedBytes();
    if (held > this.limits.queryBufferLimit) {
      throw new QueryBufferLimitError(held, this.limits.queryBufferLimit);
    }
  }

  /** Bytes held for requests not yet complete: qbuf plus argv-mem, what the limit bounds. */
  bufferedBytes(): number {
    return this.queryBytes() + this.argvBytes();
  }

  /** CLIENT LIST `qbuf`: bytes received and not yet turned into arguments. */
  queryBytes(): number {
    return this.queuedBytes + (this.buf.length - this.pos) + this.lineLen + this.bodyFilled;
  }

  /** CLIENT LIST `argv-mem`: the arguments of the request in progress, with their overhead. */
  argvBytes(): number {
    return this.argBytes + this.argv.length * ARG_OVERHEAD;
  }

  /**
   * The next complete request's arguments, or null until more bytes are pushed. Arguments are
   * binary-safe views on received chunks: valid for as long as they are referenced and never
   * overwritten, but they keep their chunk alive, so copy what is kept long-term.
   * @throws ProtocolError (a subclass naming the failure) on a malformed request; the parser
   *   stays failed and throws the same error again.
   */
  next(): Buffer[] | null {
    if (this.failure !== null) throw this.failure;
    try {
      return this.parse();
    } catch (err) {
      this.failure = err as ProtocolError;
      throw err;
    }
  }

  private parse(): Buffer[] | null {
    for (;;) {
      if (this.pos >= this.buf.length && !this.load()) return null;
      switch (this.mode) {
        case Mode.Idle: {
          if (this.buf[this.pos] !== STAR) {
            this.mode = Mode.Inline;
            break;
          }
          const argv = this.wholeMultibulk();
          if (argv !== null) return argv;
          this.mode = Mode.Count;
          break;
        }
        case Mode.Inline: {
          if (!this.readLine(LF, InlineTooBigError)) break;
          let end = this.lineEnd;
          if (end > this.lineStart && this.lineBuf[end - 1] === CR) end--;
          const args = splitInlineArgs(this.lineBuf, this.lineStart, end);
          if (args === null) throw new UnbalancedQuotesError();
          this.mode = Mode.Idle;
          if (args.length > 0) return args;
          break;
        }
        case Mode.Count: {
          if (!this.readLine(CR, MultibulkCountTooBigError)) break;
          const n = parseLongLong(this.lineBuf, this.lineStart + 1, this.lineEnd);
          if (n === null || n > this.limits.maxMultibulkLen || n * REQUEST_ARG_BYTES > this.limits.maxRequestBytes) {
            throw new InvalidMultibulkLengthError();
          }
          if (n > UNAUTH_MAX_MULTIBULK && this.unauthenticated) throw new UnauthenticatedMultibulkLengthError();
          if (n <= 0) {
            this.mode = Mode.Idle;
          } else {
            this.argsLeft = n;
            this.mode = Mode.BulkHeader;
          }
          break;
        }
        case Mode.BulkHeader: {
          if (!this.readLine(CR, BulkCountTooBigError)) break;
          // An empty line's first byte is its own `\r`, which Redis then reports.
          const first = this.lineEnd > this.lineStart ? this.lineBuf[this.lineStart] : CR;
          if (first !== DOLLAR) throw new ExpectedDollarError(first);
          const n = parseLongLong(this.lineBuf, this.lineStart + 1, this.lineEnd);
          if (n === null || n < 0 || n > this.limits.maxBulkLen) throw new InvalidBulkLengthError();
          if (n > UNAUTH_MAX_BULK && this.unauthenticated) throw new UnauthenticatedBulkLengthError();
          // A request that could never fit the query buffer is refused before its bytes come.
          if (this.argBytes + n > this.limits.queryBufferLimit) throw new InvalidBulkLengthError();
          this.bulkLen = n;
          this.mode = Mode.BulkBody;
          break;
        }
        case Mode.BulkBody: {
          if (!this.readBody()) break;
          if (--this.argsLeft > 0) {
            this.mode = Mode.BulkHeader;
            break;
          }
          const argv = this.argv;
          this.argv = [];
          this.argBytes = 0;
          this.mode = Mode.Idle;
          return argv;
        }
      }
    }
  }

  /**
   * The multibulk request at `pos` when the chunk holds all of it in canonical form (what
   * client libraries send), parsed in one pass; else null, and the state machine takes it from
   * the same byte, so partial requests, limits, odd digits and every error go the one slow
   * way and the outcome never depends on which path ran.
   */
  private wholeMultibulk(): Buffer[] | null {
    const buf = this.buf;
    const end = buf.length;
    const limits = this.limits;
    let p = this.pos + 1;
    let n = 0;
    let digits = 0;
    for (; p < end; p++) {
      const d = buf[p] - 0x30;
      if (d < 0 || d > 9 || (d === 0 && digits === 0)) break;
      n = n * 10 + d;
      digits++;
    }
    // The header's byte after `\r` is skipped unchecked, as in the slow path.
    if (digits === 0 || digits > 9 || p + 1 >= end || buf[p] !== CR || p - this.pos > limits.maxInlineLen) return null;
    if (n > limits.maxMultibulkLen || n * REQUEST_ARG_BYTES > limits.maxRequestBytes) return null;
    if (this.unauthenticated && n > UNAUTH_MAX_MULTIBULK) return null;
    p += 2;
    // Every argument takes at least 6 bytes (`$0\r\n\r\n`): a count beyond that cannot be whole.
    if (n * 6 > end - p) return null;
    const maxBulk = this.unauthenticated ? Math.min(UNAUTH_MAX_BULK, limits.maxBulkLen) : limits.maxBulkLen;
    const argv: Buffer[] = new Array(n);
    for (let i = 0; i < n; i++) {
      if (p >= end || buf[p] !== DOLLAR) return null;
      const start = p;
      p++;
      let len = 0;
      digits = 0;
      for (; p < end; p++) {
        const d = buf[p] - 0x30;
        if (d < 0 || d > 9) break;
        len = len * 10 + d;
        digits++;
      }
      // "0" alone is the only number that may start with a zero.
      if (digits === 0 || digits > 12 || (digits > 1 && buf[start + 1] === 0x30)) return null;
      if (p + 1 >= end || buf[p] !== CR || p - start > limits.maxInlineLen || len > maxBulk) return null;
      p += 2;
      // The body and the two bytes after it (skipped unchecked, as in the slow path).
      if (p + len + 2 > end) return null;
      argv[i] = i === 0 ? this.commandName(buf, p, len) : buf.subarray(p, p + len);
      p += len + 2;
    }
    this.pos = p;
    return argv;
  }

  /**
   * The command name at buf[p, p + len): the previous request's Buffer when the bytes are the
   * same (a pipeline of GETs allocates no name at all), else a view that becomes the new one.
   */
  private commandName(buf: Buffer, p: number, len: number): Buffer {
    const last = this.lastName;
    if (last.length === len) {
      let i = 0;
      while (i < len && last[i] === buf[p + i]) i++;
      if (i === len) return last;
    }
    const name = buf.subarray(p, p + len);
    // A copy, so the name does not keep its whole chunk alive; long "names" are not worth it.
    if (len <= 32) this.lastName = Buffer.from(name);
    return name;
  }

  private load(): boolean {
    const next = this.queue.shift();
    if (next === undefined) {
      this.buf = EMPTY;
      this.pos = 0;
      return false;
    }
    this.queuedBytes -= next.length;
    this.buf = next;
    this.pos = 0;
    return true;
  }

  /**
   * Reads up to `term` (`\r` for headers, whose next byte is then skipped; `\n` for inline).
   * True when a whole line is in lineBuf[lineStart, lineEnd); false when the chunk ran out.
   * A line longer than maxInlineLen fails whatever the chunking, so results never depend on
   * where the stream was split.
   */
  private readLine(term: number, TooBig: new () => ProtocolError): boolean {
    const buf = this.buf;
    const max = this.limits.maxInlineLen;
    if (!this.lineActive) {
      const i = scanLine(buf, this.pos, term);
      if (i >= 0 && i - this.pos > max) throw new TooBig();
      if (i >= 0 && (term === LF || i + 1 < buf.length)) {
        this.setLine(buf, this.pos, i);
        this.pos = term === LF ? i + 1 : i + 2;
        return true;
      }
      this.lineActive = true;
      this.lineLen = 0;
      this.lineBlocked = i === -2;
      this.lineSkip = i >= 0;
      this.appendLine(buf, this.pos, i >= 0 ? i : buf.length, TooBig);
      this.pos = buf.length;
      return false;
    }
    if (this.lineSkip) {
      this.pos++;
      return this.finishLine();
    }
    const i = this.lineBlocked ? -2 : scanLine(buf, this.pos, term);
    if (i === -2) this.lineBlocked = true;
    this.appendLine(buf, this.pos, i >= 0 ? i : buf.length, TooBig);
    if (i < 0) {
      this.pos = buf.length;
      return false;
    }
    if (term === LF) {
      this.pos = i + 1;
      return this.finishLine();
    }
    if (i + 1 < buf.length) {
      this.pos = i + 2;
      return this.finishLine();
    }
    this.lineSkip = true;
    this.pos = buf.length;
    return false;
  }

  private appendLine(src: Buffer, start: number, end: number, TooBig: new () => ProtocolError): void {
    const n = end - start;
    if (this.lineLen + n > this.limits.maxInlineLen) throw new TooBig();
    if (!this.lineBlocked) {
      if (this.acc.length < this.lineLen + n) {
        const grown = Buffer.allocUnsafe(Math.max(256, (this.lineLen + n) * 2));
        this.acc.copy(grown, 0, 0, this.lineLen);
        this.acc = grown;
      }
      src.copy(this.acc, this.lineLen, start, end);
    }
    this.lineLen += n;
  }

  private finishLine(): true {
    this.setLine(this.acc, 0, this.lineLen);
    this.lineActive = false;
    this.lineSkip = false;
    this.lineLen = 0;
    return true;
  }

  private setLine(buf: Buffer, start: number, end: number): void {
    this.lineBuf = buf;
    this.lineStart = start;
    this.lineEnd = end;
  }

  /** Reads the bulk body and skips its two trailing bytes; true when the argument is done. */
  private readBody(): boolean {
    const buf = this.buf;
    const len = this.bulkLen;
    if (this.bodyParts === null && this.trailerLeft === 0) {
      if (buf.length - this.pos >= len) {
        // The whole body is in this chunk: no copy.
        this.argv.push(buf.subarray(this.pos, this.pos + len));
        this.argBytes += len;
        this.pos += len;
        this.trailerLeft = 2;
      } else {
        // Cut by a chunk boundary: keep views on the pieces as they arrive (nothing is
        // allocated for bytes only declared) and join them once, when the last one comes.
        this.bodyParts = [];
        this.bodyFilled = 0;
      }
    }
    if (this.bodyParts !== null) {
      const n = Math.min(len - this.bodyFilled, buf.length - this.pos);
      if (n > 0) this.bodyParts.push(buf.subarray(this.pos, this.pos + n));
      this.bodyFilled += n;
      this.pos += n;
      if (this.bodyFilled < len) return false;
      this.argv.push(Buffer.concat(this.bodyParts, len));
      this.argBytes += len;
      this.bodyParts = null;
      this.bodyFilled = 0;
      this.trailerLeft = 2;
    }
    const skip = Math.min(this.trailerLeft, buf.length - this.pos);
    this.pos += skip;
    this.trailerLeft -= skip;
    return this.trailerLeft === 0;
  }
}
