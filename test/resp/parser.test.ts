import { describe, expect, it } from 'vitest';
import {
  BulkCountTooBigError,
  ExpectedDollarError,
  InlineTooBigError,
  InvalidBulkLengthError,
  InvalidMultibulkLengthError,
  MultibulkCountTooBigError,
  QueryBufferLimitError,
  UnauthenticatedBulkLengthError,
  UnauthenticatedMultibulkLengthError,
  UnbalancedQuotesError,
} from '../../src/resp/errors.ts';
import { ARG_OVERHEAD, RequestParser } from '../../src/resp/parser.ts';
import { encodeRequest } from './support/client.ts';
import { parseChunks, parseString } from './support/parse.ts';

const ok = (...commands: string[][]) => ({ commands, error: null });

describe('multibulk requests', () => {
  it('parses one request and a pipeline', () => {
    expect(parseString('*1\r\n$4\r\nPING\r\n')).toEqual(ok(['PING']));
    expect(parseString('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n')).toEqual(ok(['GET', 'k'], ['SET', 'k', '']));
  });

  it('is binary safe: CR, LF, NUL and high bytes inside arguments', () => {
    const arg = Buffer.from([0, 13, 10, 0x2a, 0x24, 0xff, 0x80]);
    const parser = new RequestParser();
    parser.push(encodeRequest([Buffer.from('SET'), Buffer.from('k'), arg]));
    const argv = parser.next();
    expect(argv?.[2]).toEqual(arg);
    expect(parser.next()).toBeNull();
  });

  it('returns zero-copy views when a request lies within one chunk', () => {
    const chunk = encodeRequest(['SET', 'key', 'value']);
    const parser = new RequestParser();
    parser.push(chunk);
    const argv = parser.next() as Buffer[];
    expect(argv.map((a) => a.buffer === chunk.buffer)).toEqual([true, true, true]);
  });

  it('hands a repeated command name back as one Buffer, byte-exact (case included)', () => {
    const parser = new RequestParser();
    const requests = [
      ['GET', 'a'],
      ['GET', 'b'],
      ['GET', 'c'],
      ['get', 'd'],
    ];
    parser.push(Buffer.concat(requests.map(encodeRequest)));
    const parsed = requests.map(() => parser.next() as Buffer[]);
    expect(parsed[2][0]).toBe(parsed[1][0]);
    expect(parsed[3][0]).not.toBe(parsed[2][0]);
    expect(parsed.map((argv) => argv.map((a) => a.toString('latin1')))).toEqual(requests);
  });

  it('skips empty (*0) and negative-count requests like Redis', () => {
    expect(parseString('*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n')).toEqual(ok(['PING']));
  });

  it("skips the byte after a header's CR and the two after a body unchecked, as Redis does", () => {
    expect(parseString('*1\rX$4\r\nPINGXX*1\r\n$4\r\nPING\r\n')).toEqual(ok(['PING'], ['PING']));
  });

  it('waits for a header whose CR is the last byte received', () => {
    const p = new RequestParser();
    p.push(Buffer.from('*1\r'));
    expect(p.next()).toBeNull();
    p.push(Buffer.from('\n$4\r'));
    expect(p.next()).toBeNull();
    p.push(Buffer.from('\nPING\r\n'));
    expect(p.next()?.map(String)).toEqual(['PING']);
  });

  it('gathers a large bulk cut across many chunks into one exact-size buffer', () => {
    const value = Buffer.alloc(200_000, 0x61);
    const frame = encodeRequest([Buffer.from('SET'), Buffer.from('k'), value]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < frame.length; i += 1000) chunks.push(frame.subarray(i, i + 1000));
    const p = new RequestParser();
    let argv: Buffer[] | null = null;
    for (const c of chunks) {
      p.push(c);
      argv = p.next() ?? argv;
    }
    expect(argv?.[2].equals(value)).toBe(true);
    expect(argv?.[2].length).toBe(200_000);
  });

  it('accepts lengths up to the configured limits', () => {
    expect(parseString('*2\r\n$1\r\na\r\n$1\r\nb\r\n', { maxMultibulkLen: 2 })).toEqual(ok(['a', 'b']));
    expect(parseString('*1\r\n$3\r\nabc\r\n', { maxBulkLen: 3 })).toEqual(ok(['abc']));
  });
});

describe('whole requests in one chunk (the one-pass path) and byte by byte agree', () => {
  const bytewise = (s: string, limits?: Parameters<typeof parseString>[1]) =>
    parseChunks(
      [...Buffer.from(s, 'latin1')].map((b) => Buffer.from([b])),
      limits,
    );
  const cases: [string, string, Parameters<typeof parseString>[1]?][] = [
    ['canonical', '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'],
    ['leading zero in a bulk length', '*1\r\n$03\r\nabc\r\n'],
    ['leading zero in the count', '*01\r\n$1\r\na\r\n'],
    ['zero-length bulk', '*2\r\n$0\r\n\r\n$1\r\nx\r\n'],
    ['negative bulk length', '*1\r\n$-1\r\n'],
    ['plus sign', '*1\r\n$+1\r\na\r\n'],
    ['junk after the digits', '*1\r\n$1x\r\na\r\n'],
    ['no dollar', '*2\r\n$1\r\na\r\n:1\r\n'],
    ['odd bytes after CR and body', '*2\r_$1\rXa..$1\r\nb\r\n'],
    ['count over the argument limit', '*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n', { maxMultibulkLen: 2 }],
    ['bulk over the length limit', '*1\r\n$5\r\nhello\r\n', { maxBulkLen: 4 }],
    ['header over the line limit', '*1\r\n$00000001\r\na\r\n', { maxInlineLen: 4 }],
    ['a huge count', '*999999999\r\n$1\r\na\r\n'],
  ];
  it.each(cases)('%s', (_name, request, limits) => {
    const whole = parseString(request + request, limits);
    expect(whole).toEqual(bytewise(request + request, limits));
  });
});

describe('inline requests', () => {
  it('splits on spaces and accepts LF or CRLF', () => {
    expect(parseString('SET k v\r\nGET k\nPING\r\n')).toEqual(ok(['SET', 'k', 'v'], ['GET', 'k'], ['PING']));
  });

  it('ignores empty and blank lines', () => {
    expect(parseString('\r\n\n  \r\nPING\n')).toEqual(ok(['PING']));
  });

  it('handles quotes and escapes like sdssplitargs', () => {
    expect(parseString("SET \"hello world\" 'it\\'s'\r\n")).toEqual(ok(['SET', 'hello world', "it's"]));
    expect(parseString('ECHO "\\x41\\n\\q\\"\\\\"\r\n')).toEqual(ok(['ECHO', 'A\nq"\\']));
    expect(parseString('ECHO a"b c"\r\n')).toEqual(ok(['ECHO', 'ab c']));
    expect(parseString('ECHO "\\xZZ"\r\n')).toEqual(ok(['ECHO', 'xZZ']));
    expect(parseString('ECHO ""\r\n')).toEqual(ok(['ECHO', '']));
  });

  it('keeps \\v and \\f inside unquoted tokens but skips them between tokens', () => {
    expect(parseString('ECHO a\x0bb\r\n')).toEqual(ok(['ECHO', 'a\x0bb']));
    expect(parseString('ECHO \x0ba\r\n')).toEqual(ok(['ECHO', 'a']));
    expect(parseString('ECHO a\tb\r\n')).toEqual(ok(['ECHO', 'a', 'b']));
  });

  it('drops only one CR before the LF; other CRs separate tokens', () => {
    expect(parseString('ECHO a\rb\r\r\n')).toEqual(ok(['ECHO', 'a', 'b']));
  });

  it('treats a request not starting with * as inline, even $', () => {
    expect(parseString('$4\r\nPING\r\n')).toEqual(ok(['$4'], ['PING']));
  });
});

describe('protocol errors carry Redis 7.0 texts', () => {
  const cases: [string, string, string][] = [
    ['*1\r\nX\r\n', 'ExpectedDollarError', "Protocol error: expected '$', got 'X'"],
    ['*1\r\n*4\r\n', 'ExpectedDollarError', "Protocol error: expected '$', got '*'"],
    ['*1\r\n\r\nX', 'ExpectedDollarError', "Protocol error: expected '$', got '\r'"],
    ['*2147483648\r\n', 'InvalidMultibulkLengthError', 'Protocol error: invalid multibulk length'],
    ['*\r\n', 'InvalidMultibulkLengthError', 'Protocol error: invalid multibulk length'],
    ['*-\r\n', 'InvalidMultibulkLengthError', 'Protocol error: invalid multibulk length'],
    ['*01\r\n', 'InvalidMultibulkLengthError', 'Protocol error: invalid multibulk length'],
    ['*+1\r\n', 'InvalidMultibulkLengthError', 'Protocol error: invalid multibulk length'],
    ['*1x\r\n', 'InvalidMultibulkLengthError', 'Protocol error: invalid multibulk length'],
    ['*-9223372036854775809\r\n', 'InvalidMultibulkLengthError', 'Protocol error: invalid multibulk length'],
    ['*1\r\n$-1\r\n', 'InvalidBulkLengthError', 'Protocol error: invalid bulk length'],
    ['*1\r\n$+4\r\n', 'InvalidBulkLengthError', 'Protocol error: invalid bulk length'],
    ['*1\r\n$536870913\r\n', 'InvalidBulkLengthError', 'Protocol error: invalid bulk length'],
    ['*1\r\n$\r\n', 'InvalidBulkLengthError', 'Protocol error: invalid bulk length'],
    ['PING "a"b\r\n', 'UnbalancedQuotesError', 'Protocol error: unbalanced quotes in request'],
    ['ECHO "a\r\n', 'UnbalancedQuotesError', 'Protocol error: unbalanced quotes in request'],
    ["ECHO 'a\\'\r\n", 'UnbalancedQuotesError', 'Protocol error: unbalanced quotes in request'],
  ];
  for (const [input, name, message] of cases) {
    it(`${JSON.stringify(input)} -> ${name}`, () => {
      expect(parseString(input).error).toBe(`${name}: ${message}`);
    });
  }

  it('accepts the extreme valid counts: -2^63 is an empty request, 2^31-1 waits for arguments', () => {
    expect(parseString('*-9223372036854775808\r\n*1\r\n$1\r\na\r\n')).toEqual(ok(['a']));
    expect(parseString('*2147483647\r\n')).toEqual(ok());
  });

  it('reports the offending byte raw, even above 0x7f', () => {
    const p = new RequestParser();
    p.push(Buffer.from([0x2a, 0x31, 13, 10, 0xe9, 13, 10]));
    let caught: unknown;
    try {
      p.next();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ExpectedDollarError);
    expect((caught as ExpectedDollarError).bytes).toEqual(Buffer.from("Protocol error: expected '$', got '\xe9'", 'latin1'));
  });

  it('stays failed: the same error is thrown again', () => {
    const p = new RequestParser();
    p.push(Buffer.from('*1\r\nX\r\n'));
    expect(() => p.next()).toThrow(ExpectedDollarError);
    p.push(Buffer.from('*1\r\n$4\r\nPING\r\n'));
    expect(() => p.next()).toThrow(ExpectedDollarError);
  });

  it('rejects lines longer than maxInlineLen, whatever the chunking', () => {
    const limits = { maxInlineLen: 16 };
    const long = `GET ${'k'.repeat(13)}\r\n`; // 17 bytes before \n (the \r counts)
    expect(parseString(long, limits).error).toMatch(/^InlineTooBigError: Protocol error: too big inline request$/);
    expect(parseString(`GET ${'k'.repeat(11)}\r\n`, limits)).toEqual(ok(['GET', 'k'.repeat(11)]));
    expect(parseChunks([Buffer.from('GET '), Buffer.from('k'.repeat(20))], limits).error).toMatch(/^InlineTooBigError/);
    expect(parseString(`*${'1'.repeat(17)}`, limits).error).toMatch(/^MultibulkCountTooBigError: .*too big mbulk count string$/);
    expect(parseString(`*1\r\n$${'1'.repeat(17)}`, limits).error).toMatch(/^BulkCountTooBigError: .*too big bulk count string$/);
  });

  it('a NUL before the terminator means "no line yet", then too big (Redis scans C strings)', () => {
    expect(parseString('PI\0NG\r\n')).toEqual(ok());
    expect(parseString('*1\r\n$\x004\r\nPING\r\n')).toEqual(ok());
    expect(parseChunks([Buffer.from('PI\0NG\r\n'), Buffer.alloc(20, 0x61)], { maxInlineLen: 16 }).error).toMatch(/^InlineTooBigError/);
  });

  it('applies the pre-AUTH caps only while unauthenticated', () => {
    const p = new RequestParser();
    p.unauthenticated = true;
    p.push(Buffer.from('*11\r\n'));
    expect(() => p.next()).toThrow(UnauthenticatedMultibulkLengthError);
    const q = new RequestParser();
    q.unauthenticated = true;
    q.push(Buffer.from('*10\r\n$16384\r\n'));
    expect(q.next()).toBeNull();
    const r = new RequestParser();
    r.unauthenticated = true;
    r.push(Buffer.from('*1\r\n$16385\r\n'));
    expect(() => r.next()).toThrow(UnauthenticatedBulkLengthError);
    const s = new RequestParser();
    s.push(Buffer.from('*11\r\n$16385\r\n'));
    expect(s.next()).toBeNull();
  });

  it('every failure is its own class', () => {
    const classes = [
      ExpectedDollarError,
      InvalidMultibulkLengthError,
      InvalidBulkLengthError,
      UnbalancedQuotesError,
      InlineTooBigError,
      MultibulkCountTooBigError,
      BulkCountTooBigError,
      UnauthenticatedBulkLengthError,
      UnauthenticatedMultibulkLengthError,
    ];
    expect(new Set(classes.map((c) => c.name)).size).toBe(classes.length);
  });
});

describe('query buffer limit', () => {
  it('throws when an unfinished request holds more than the limit, argv-mem included', () => {
    const p = new RequestParser({ queryBufferLimit: 300 });
    p.push(Buffer.from('*2\r\n$3\r\nSET\r\n$200\r\n'));
    expect(p.next()).toBeNull();
    // SET is parsed: 3 bytes plus one argument's overhead.
    expect(p.argvBytes()).toBe(3 + ARG_OVERHEAD);
    p.push(Buffer.alloc(60, 0x61));
    expect(p.next()).toBeNull();
    p.push(Buffer.alloc(60, 0x61));
    expect(p.next()).toBeNull();
    expect(p.queryBytes()).toBe(120);
    expect(() => p.push(Buffer.alloc(60, 0x61))).toThrow(QueryBufferLimitError);
  });

  it('refuses a bulk that could never fit the query buffer at its header, before its bytes', () => {
    const p = new RequestParser({ queryBufferLimit: 1000 });
    p.push(Buffer.from('*2\r\n$3\r\nSET\r\n$1001\r\n'));
    expect(() => p.next()).toThrow(InvalidBulkLengthError);
  });

  it('refuses a count that cannot fit one request at its header', () => {
    const p = new RequestParser({ maxRequestBytes: 8 * 1000 });
    p.push(Buffer.from('*1001\r\n'));
    expect(() => p.next()).toThrow(InvalidMultibulkLengthError);
    const q = new RequestParser({ maxRequestBytes: 8 * 1000 });
    q.push(Buffer.from(`*1000\r\n${'$0\r\n\r\n'.repeat(1000)}`));
    expect(q.next()?.length).toBe(1000);
    // The same limit on the one-pass path for whole requests.
    const r = new RequestParser({ maxRequestBytes: 8 * 2 });
    r.push(Buffer.from('*3\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n'));
    expect(() => r.next()).toThrow(InvalidMultibulkLengthError);
  });

  it('counts empty arguments: a flood of $0 grows argv-mem and hits the limit', () => {
    const p = new RequestParser({ queryBufferLimit: 1000 * ARG_OVERHEAD });
    p.push(Buffer.from('*2147483647\r\n'));
    expect(p.next()).toBeNull();
    expect(p.bufferedBytes()).toBe(0);
    p.push(Buffer.from('$0\r\n\r\n'.repeat(500)));
    expect(p.next()).toBeNull();
    expect(p.argvBytes()).toBe(500 * ARG_OVERHEAD);
    p.push(Buffer.from('$0\r\n\r\n'.repeat(500)));
    expect(p.next()).toBeNull();
    expect(p.bufferedBytes()).toBe(1000 * ARG_OVERHEAD);
    expect(() => p.push(Buffer.from('$'))).toThrow(QueryBufferLimitError);
  });

  it('holds only the bytes received of a body cut by chunk boundaries', () => {
    const p = new RequestParser();
    p.push(Buffer.from('*2\r\n$3\r\nSET\r\n$1000000\r\n'));
    expect(p.next()).toBeNull();
    p.push(Buffer.alloc(10, 0x61));
    expect(p.next()).toBeNull();
    expect(p.queryBytes()).toBe(10);
    p.push(Buffer.alloc(999_990, 0x62));
    p.push(Buffer.from('\r\n'));
    const argv = p.next();
    expect(argv?.[1].length).toBe(1_000_000);
    expect(argv?.[1][9]).toBe(0x61);
    expect(argv?.[1][10]).toBe(0x62);
    expect(p.bufferedBytes()).toBe(0);
  });

  it('does not count requests already returned', () => {
    const p = new RequestParser({ queryBufferLimit: 100 });
    for (let i = 0; i < 50; i++) {
      p.push(encodeRequest(['SET', 'k', 'x'.repeat(40)]));
      expect(p.next()?.length).toBe(3);
    }
    expect(p.bufferedBytes()).toBe(0);
  });
});
