/**
 * A client-side RESP2/RESP3 reply decoder for tests and tools: it turns reply bytes back into
 * the server's own `Reply` union, so encoder output can be checked by round trip and server
 * replies compared with a real redis-server's structurally (RESP2 cannot tell a map from an
 * array, so RESP2 input decodes to arrays, as a RESP2 client sees it).
 */
import type { Reply } from '../../../src/resp/reply.ts';

export class ReplySyntaxError extends Error {
  override name = 'ReplySyntaxError';
}

/** Decodes one reply at `offset`; null when the buffer holds only part of it. */
export function readReply(buf: Buffer, offset = 0): { reply: Reply; end: number } | null {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('latin1', offset + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { reply: { t: 'simple', v: buf.toString('utf8', offset + 1, eol) }, end: next };
    case '-':
      return { reply: { t: 'error', v: buf.toString('utf8', offset + 1, eol) }, end: next };
    case ':':
      return { reply: { t: 'int', v: toInt(line) }, end: next };
    case '_':
      return { reply: { t: 'null' }, end: next };
    case '#':
      return { reply: { t: 'bool', v: line === 't' }, end: next };
    case ',':
      return { reply: { t: 'double', v: parseDouble(line) }, end: next };
    case '(':
      return { reply: { t: 'bulk', v: Buffer.from(line) }, end: next };
    case '$':
    case '=':
    case '!': {
      const len = Number(line);
      if (len === -1) return { reply: { t: 'null' }, end: next };
      if (buf.length < next + len + 2) return null;
      const body = buf.subarray(next, next + len);
      const end = next + len + 2;
      if (type === '$') return { reply: { t: 'bulk', v: Buffer.from(body) }, end };
      if (type === '!') return { reply: { t: 'error', v: body.toString('utf8') }, end };
      return {
        reply: { t: 'verbatim', format: body.toString('latin1', 0, 3), v: Buffer.from(body.subarray(4)) },
        end,
      };
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const n = Number(line);
      if (n === -1) return { reply: { t: 'nullArray' }, end: next };
      const count = type === '%' || type === '|' ? n * 2 : n;
      const items: Reply[] = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const r = readReply(buf, pos);
        if (r === null) return null;
        items.push(r.reply);
        pos = r.end;
      }
      if (type === '*') return { reply: { t: 'array', v: items }, end: pos };
      if (type === '~') return { reply: { t: 'set', v: items }, end: pos };
      if (type === '>') return { reply: { t: 'push', v: items }, end: pos };
      const pairs: [Reply, Reply][] = [];
      for (let i = 0; i < items.length; i += 2) pairs.push([items[i], items[i + 1]]);
      if (type === '%') return { reply: { t: 'map', v: pairs }, end: pos };
      // An attribute annotates the reply that follows it; tests only need that reply.
      return readReply(buf, pos);
    }
    default:
      throw new ReplySyntaxError(`unexpected reply type byte 0x${buf[offset].toString(16)}`);
  }
}

/** Decodes every complete reply in `buf`; throws if bytes are left over. */
export function readAllReplies(buf: Buffer): Reply[] {
  const out: Reply[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const r = readReply(buf, pos);
    if (r === null) throw new ReplySyntaxError(`incomplete reply at byte ${pos}`);
    out.push(r.reply);
    pos = r.end;
  }
  return out;
}

function toInt(line: string): number | bigint {
  const n = Number(line);
  return Number.isSafeInteger(n) ? n : BigInt(line);
}

function parseDouble(line: string): number {
  if (line === 'inf') return Number.POSITIVE_INFINITY;
  if (line === '-inf') return Number.NEGATIVE_INFINITY;
  if (line === 'nan') return Number.NaN;
  return Number(line);
}

/**
 * A plain-JS view of a reply for readable assertions: strings for simple/bulk/verbatim, numbers,
 * arrays, objects for maps (keys stringified), `null` for nulls, `{ error }` for errors.
 */
export function plain(r: Reply): unknown {
  switch (r.t) {
    case 'simple':
      return r.v;
    case 'error':
      return { error: typeof r.v === 'string' ? r.v : r.v.toString('utf8') };
    case 'int':
    case 'double':
    case 'bool':
      return r.v;
    case 'bulk':
    case 'verbatim':
      return typeof r.v === 'string' ? r.v : r.v.toString('utf8');
    case 'null':
    case 'nullArray':
      return null;
    case 'array':
    case 'set':
    case 'push':
    case 'many':
      return r.v.map(plain);
    case 'map':
      return Object.fromEntries(r.v.map(([k, v]) => [String(plain(k)), plain(v)]));
  }
}
