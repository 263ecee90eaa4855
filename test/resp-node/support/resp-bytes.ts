/**
 * Raw RESP for byte-for-byte comparisons: request encoding, and a framer that cuts a reply
 * stream into the exact bytes of each reply (RESP2 and RESP3), without decoding anything.
 */
import { FramedConn, type Framer } from '../../resp/support/client.ts';

/** A multibulk request, as every client library sends it. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** End offset of the reply starting at `at`, or -1 if the buffer holds only part of it. */
export function replyEnd(buf: Buffer, at: number): number {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return -1;
  const type = String.fromCharCode(buf[at]);
  const n = Number(buf.toString('latin1', at + 1, eol));
  let pos = eol + 2;
  switch (type) {
    case '$':
    case '=':
    case '!':
      if (n < 0) return pos;
      return buf.length >= pos + n + 2 ? pos + n + 2 : -1;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (n < 0) return pos;
      const items = type === '%' || type === '|' ? n * 2 : n;
      for (let i = 0; i < items; i++) {
        pos = replyEnd(buf, pos);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default:
      return pos;
  }
}

const replyBytes: Framer<Buffer> = (buf) => {
  const end = replyEnd(buf, 0);
  return end < 0 ? null : { value: buf.subarray(0, end), end };
};

/** A connection that sends raw requests and hands back each reply's exact bytes. */
export class RawConn extends FramedConn<Buffer> {
  static async open(port: number): Promise<RawConn> {
    return new RawConn(await FramedConn.dial(port), replyBytes, 10_000);
  }

  /** Sends one command and returns its reply's bytes. */
  async call(...args: (string | Buffer)[]): Promise<Buffer> {
    this.send(encodeCommand(args));
    return (await this.read(1))[0];
  }
}
