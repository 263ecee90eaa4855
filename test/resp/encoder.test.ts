import { describe, expect, it } from 'vitest';
import { encodeReplies, encodeReply, formatDouble, heldBytes, ReplyWriter } from '../../src/resp/encoder.ts';
import { NestedManyReplyError } from '../../src/resp/errors.ts';
import { R, type Reply } from '../../src/resp/reply.ts';
import { readAllReplies } from './support/reply-reader.ts';

const enc2 = (r: Reply) => encodeReply(r, 2).toString('latin1');
const enc3 = (r: Reply) => encodeReply(r, 3).toString('latin1');

describe('RESP2 and RESP3 wire forms, byte for byte', () => {
  const cases: [string, Reply, string, string][] = [
    ['simple', R.OK, '+OK\r\n', '+OK\r\n'],
    ['error', R.error('ERR syntax error'), '-ERR syntax error\r\n', '-ERR syntax error\r\n'],
    ['integer', R.int(-42), ':-42\r\n', ':-42\r\n'],
    ['bigint', R.int(9223372036854775807n), ':9223372036854775807\r\n', ':9223372036854775807\r\n'],
    ['bulk', R.bulk('héllo'), '$6\r\nh\xc3\xa9llo\r\n', '$6\r\nh\xc3\xa9llo\r\n'],
    ['empty bulk', R.bulk(''), '$0\r\n\r\n', '$0\r\n\r\n'],
    ['binary bulk', R.bulk(Buffer.from([0, 13, 10, 255])), '$4\r\n\0\r\n\xff\r\n', '$4\r\n\0\r\n\xff\r\n'],
    ['null', R.NULL, '$-1\r\n', '_\r\n'],
    ['null array', R.NULL_ARRAY, '*-1\r\n', '_\r\n'],
    ['empty array', R.EMPTY_ARRAY, '*0\r\n', '*0\r\n'],
    ['nested array', R.array([R.int(1), R.array([R.bulk('a'), R.NULL])]), '*2\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n', '*2\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n'],
    [
      'map',
      R.map([
        [R.bulk('proto'), R.int(3)],
        [R.bulk('modules'), R.EMPTY_ARRAY],
      ]),
      '*4\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n',
      '%2\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n',
    ],
    ['set', R.set([R.simple('readonly'), R.simple('fast')]), '*2\r\n+readonly\r\n+fast\r\n', '~2\r\n+readonly\r\n+fast\r\n'],
    ['double', R.double(1.5), '$3\r\n1.5\r\n', ',1.5\r\n'],
    ['double inf', R.double(Number.POSITIVE_INFINITY), '$3\r\ninf\r\n', ',inf\r\n'],
    ['double -inf', R.double(Number.NEGATIVE_INFINITY), '$4\r\n-inf\r\n', ',-inf\r\n'],
    ['true', R.bool(true), ':1\r\n', '#t\r\n'],
    ['false', R.bool(false), ':0\r\n', '#f\r\n'],
    ['verbatim', R.verbatim('a=1\n'), '$4\r\na=1\n\r\n', '=8\r\ntxt:a=1\n\r\n'],
    [
      'push',
      R.push([R.bulk('message'), R.bulk('ch'), R.bulk('hi')]),
      '*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n',
      '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n',
    ],
    ['many', R.many([R.OK, R.int(1)]), '+OK\r\n:1\r\n', '+OK\r\n:1\r\n'],
  ];
  for (const [name, reply, resp2, resp3] of cases) {
    it(name, () => {
      expect(enc2(reply)).toBe(resp2);
      expect(enc3(reply)).toBe(resp3);
    });
  }

  it('turns CR and LF inside status and error lines into spaces, as Redis does', () => {
    expect(enc2(R.simple('a\r\nb'))).toBe('+a  b\r\n');
    expect(enc2(R.error('ERR bad\nname'))).toBe('-ERR bad name\r\n');
    expect(enc2(R.error(Buffer.from("ERR got '\r'")))).toBe("-ERR got ' '\r\n");
  });

  it('writes error bytes as given (raw bytes from user input survive)', () => {
    expect(encodeReply(R.error(Buffer.from([0x45, 0x52, 0x52, 0x20, 0xe9])), 2)).toEqual(Buffer.from('-ERR \xe9\r\n', 'latin1'));
  });

  it('frames Buffer bulks of every short length byte for byte, in one stream', () => {
    const payloads = Array.from({ length: 130 }, (_, n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) % 256)));
    const want = Buffer.concat(payloads.flatMap((p) => [Buffer.from(`$${p.length}\r\n`), p, Buffer.from('\r\n')]));
    expect(encodeReplies(payloads.map(R.bulk), 2)).toEqual(want);
  });

  it('writes a binary-string bulk exactly as the Buffer bulk of the same bytes, at every size', () => {
    for (const n of [0, 1, 9, 10, 63, 64, 99, 100, 1000, 16 * 1024 - 1, 16 * 1024, 100_000]) {
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 37) & 0xff;
      const asBinary = encodeReplies([R.binary(bytes.toString('latin1')), R.OK], 2);
      expect(asBinary.equals(encodeReplies([R.bulk(bytes), R.OK], 2)), `length ${n}`).toBe(true);
    }
  });

  it('charges a waiting reply its own bytes, and a binary reply only its object', () => {
    const big = 'x'.repeat(512 * 1024);
    expect(heldBytes(R.binary(big))).toBeLessThan(64);
    expect(heldBytes(R.bulk(Buffer.from(big, 'latin1')))).toBeGreaterThanOrEqual(512 * 1024);
    expect(heldBytes(R.push([R.bulk('message'), R.bulk('ch'), R.bulk(Buffer.alloc(1000))]))).toBeGreaterThanOrEqual(1009);
  });

  it('refuses a many reply inside an aggregate', () => {
    expect(() => encodeReply(R.array([R.many([R.OK])]), 2)).toThrow(NestedManyReplyError);
  });

  it('round-trips through a client-side decoder', () => {
    const replies: Reply[] = [
      R.array([R.bulk(Buffer.from('x')), R.int(7), R.map([[R.bulk(Buffer.from('k')), R.set([R.bulk(Buffer.from('v'))])]])]),
      R.push([R.bulk(Buffer.from('message'))]),
      R.bool(true),
      R.double(-0.25),
      R.verbatim(Buffer.from('txt body'), 'mkd'),
    ];
    expect(readAllReplies(encodeReplies(replies, 3))).toEqual(replies);
  });
});

describe('formatDouble matches printf("%.17g")', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '-0'],
    [1, '1'],
    [1.5, '1.5'],
    [0.1, '0.10000000000000001'],
    [Math.PI, '3.1415926535897931'],
    [100, '100'],
    [1e16, '10000000000000000'],
    [1e17, '1e+17'],
    [1.5e300, '1.5000000000000001e+300'],
    [0.0001, '0.0001'],
    [0.00001, '1.0000000000000001e-05'],
    [123456789012345680000, '1.2345678901234568e+20'],
    [-2.5e-10, '-2.5000000000000002e-10'],
    [Number.NaN, 'nan'],
  ];
  for (const [d, s] of cases) it(`${d} -> ${s}`, () => expect(formatDouble(d)).toBe(s));
});

describe('ReplyWriter buffering', () => {
  function collect(opts = {}) {
    const chunks: { bytes: Buffer; release: (() => void) | null; view: Buffer }[] = [];
    const writer = new ReplyWriter((chunk, release) => chunks.push({ bytes: Buffer.from(chunk), release, view: chunk }), opts);
    return { writer, chunks };
  }

  it('sends one chunk per flush, however many replies were written', () => {
    const { writer, chunks } = collect();
    for (let i = 0; i < 100; i++) writer.write(R.int(i), 2);
    expect(chunks).toHaveLength(0);
    writer.flush();
    expect(chunks).toHaveLength(1);
    expect(readAllReplies(chunks[0].bytes)).toHaveLength(100);
    writer.flush();
    expect(chunks).toHaveLength(1);
  });

  it('never overwrites bytes the sink still holds, and reuses them once released', () => {
    const { writer, chunks } = collect({ initialSize: 64 });
    writer.write(R.bulk('a'.repeat(40)), 2);
    writer.flush();
    // Not released yet: the next replies must go elsewhere, growing past the first buffer.
    for (let i = 0; i < 5; i++) writer.write(R.bulk('b'.repeat(40)), 2);
    writer.flush();
    expect(chunks[0].view.equals(chunks[0].bytes)).toBe(true);
    for (const c of chunks) c.release?.();
    writer.write(R.OK, 2);
    writer.flush();
    expect(chunks[2].bytes.toString()).toBe('+OK\r\n');
    expect(chunks[0].view.equals(chunks[0].bytes)).toBe(true);
  });

  it('hands large payloads to the sink by reference between buffer segments', () => {
    const { writer, chunks } = collect({ directThreshold: 1024 });
    const big = Buffer.alloc(4096, 0x7a);
    writer.write(R.array([R.bulk('k'), R.bulk(big)]), 2);
    writer.flush();
    expect(chunks.map((c) => c.bytes.length)).toEqual([18, 4096, 2]);
    expect(chunks[1].view).toBe(big);
    expect(chunks[1].release).toBeNull();
    expect(readAllReplies(Buffer.concat(chunks.map((c) => c.bytes)))).toEqual([R.array([R.bulk(Buffer.from('k')), R.bulk(big)])]);
  });
});
