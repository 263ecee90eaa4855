/**
 * HTTP inputs: requests built from the node's OpenAPI document (`GET /openapi.json`: every
 * route, its path parameters and its JSON body schema), then mutated: value types and sizes,
 * methods, headers (content types, lengths, encodings, huge and repeated ones), path segments
 * and the raw bytes. Sessions are keep-alive connections with requests pipelined on them.
 */
import { INTERESTING_NUMBERS, mutateBytes, splitWrites } from './mutate.ts';
import type { StreamSession } from './resp.ts';
import type { Rng } from './rng.ts';

/** The part of a JSON schema the generator reads. */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  nullable?: boolean;
  enum?: unknown[];
}

export interface Operation {
  method: string;
  /** `/v1/kv/{key}` */
  path: string;
  params: { name: string; schema: Schema }[];
  body: Schema | undefined;
}

interface OpenApi {
  paths: Record<
    string,
    Record<string, { parameters?: { in: string; name: string; schema: Schema }[]; requestBody?: { content?: Record<string, { schema: Schema }> } }>
  >;
}

/** The operations of an OpenAPI 3 document, in document order. */
export function operationsOf(doc: OpenApi): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      out.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return out;
}

const PRINTABLE = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const ODD_CHARS = ['\u0000', '\u00e9', '\u2028', '\ud83d\ude00', '\ud800', '\t', '\n', ' ', '%', '/', '..', '\\'];

/** Characters of a `^[...]+$` pattern's class, else undefined. */
function patternChars(pattern: string | undefined): string | undefined {
  const m = pattern && /^\^\[([^\]]+)\][+*]\$$/.exec(pattern);
  if (!m) return undefined;
  let chars = '';
  const cls = m[1].replace(/\\(.)/g, '$1');
  for (let i = 0; i < cls.length; i++) {
    if (cls[i + 1] === '-' && i + 2 < cls.length) {
      for (let c = cls.charCodeAt(i); c <= cls.charCodeAt(i + 2); c++) chars += String.fromCharCode(c);
      i += 2;
    } else chars += cls[i];
  }
  return chars;
}

function stringFor(rng: Rng, s: Schema): string {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 64, 64);
  const len = Math.max(min, Math.min(max, rng.skewed(max)));
  const chars = patternChars(s.pattern) ?? PRINTABLE;
  let out = '';
  for (let i = 0; i < len; i++) out += rng.chance(0.97) || s.pattern ? chars[rng.u32() % chars.length] : rng.pick(ODD_CHARS);
  return out;
}

/**
 * Hosts the node will dial once a member is added: loopback names, and malformed variants that
 * no URL or resolver accepts. Never a name that needs DNS or an address off this machine
 * (the fuzzer must not make the node send traffic beyond loopback).
 */
export function hostValue(rng: Rng): string {
  const base = rng.pick(['127.0.0.1', '127.1', '2130706433', '0x7f.1', 'localhost', 'LOCALHOST', 'localhost.', '::1', '[::1]', '127.0.0.1:1']);
  if (rng.chance(0.5)) return base;
  // Characters a URL host may not hold: the address stays invalid instead of naming another host.
  const bad = rng.pick([' ', '<', '>', '^', '|', '\u0000', '%', '%zz', ' '.repeat(1 + rng.skewed(64))]);
  const at = rng.int(0, base.length);
  return base.slice(0, at) + bad + base.slice(at);
}

/** A value that the schema accepts (as far as this generator models schemas). */
export function validValue(rng: Rng, s: Schema | undefined, depth = 0, name = ''): unknown {
  if (!s) return null;
  if (name === 'host' && s.type === 'string') return hostValue(rng);
  if (s.enum) return rng.pick(s.enum);
  if (s.nullable && rng.chance(0.1)) return null;
  const type = Array.isArray(s.type) ? rng.pick(s.type) : (s.type ?? 'object');
  switch (type) {
    case 'string':
      return stringFor(rng, s);
    case 'integer':
    case 'number': {
      const lo = s.minimum ?? -1e6;
      const hi = s.maximum ?? 1e9;
      const edge = rng.pick([lo, hi, lo + 1, hi - 1]);
      return rng.chance(0.2) ? edge : rng.int(lo, Math.min(hi, lo + rng.skewed(1e7)));
    }
    case 'boolean':
      return rng.chance(0.5);
    case 'null':
      return null;
    case 'array':
      return depth > 4 ? [] : Array.from({ length: rng.skewed(4) }, () => validValue(rng, s.items, depth + 1));
    default: {
      const obj: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        if ((s.required ?? []).includes(name) || rng.chance(0.5)) obj[name] = validValue(rng, prop, depth + 1, name);
      }
      return obj;
    }
  }
}

/** A JSON value of any type, some of them hostile in size or shape. */
function anyValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => rng.chance(0.5),
    () => rng.int(-1e9, 1e9),
    () => Number(rng.pick(INTERESTING_NUMBERS)) || 0,
    () => 'x'.repeat(rng.skewed(1 << 20)),
    () => stringFor(rng, {}),
    () => [],
    () => ({}),
    () => Array.from({ length: rng.skewed(10_000) }, () => 1),
    () => Object.fromEntries(Array.from({ length: rng.skewed(10_000) }, (_, i) => [`k${i}`, i])),
  ])();
}

/** Mutations of the parsed body: a property's type or size, or one the schema does not know. */
function mutateBody(rng: Rng, body: unknown): string {
  const r = rng.next();
  if (r < 0.15) return `${'['.repeat(1 + rng.skewed(100_000))}${rng.chance(0.5) ? ']'.repeat(rng.skewed(100_000)) : ''}`;
  if (r < 0.2) return rng.pick(['1e309', '-0', '"\\ud800"', '\ufeff{}', '', 'null', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}']);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return JSON.stringify(anyValue(rng));
  const obj = { ...(body as Record<string, unknown>) };
  const names = Object.keys(obj);
  if (names.length === 0 || rng.chance(0.2)) obj[rng.pick(['__proto__', 'x', '', 'value', 'id', 'to'])] = anyValue(rng);
  else if (rng.chance(0.3)) delete obj[rng.pick(names)];
  else obj[rng.pick(names)] = anyValue(rng);
  let text = JSON.stringify(obj);
  // Duplicate keys: JSON.stringify never writes them.
  if (rng.chance(0.1) && names.length > 0) text = `${text.slice(0, -1)},${JSON.stringify(rng.pick(names))}:${JSON.stringify(anyValue(rng))}}`;
  return text;
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PRI', 'FOO', 'get', 'G ET', ''];
const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=',
  'application/json; charset=utf-16',
  'application/json; charset=',
  'application/JSON',
  '*/*',
  'application/octet-stream',
  'application/json, text/plain',
  '',
];

/** encodeURIComponent over UTF-8 bytes, which (unlike it) takes lone surrogates too. */
function percentEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s))
    out += /[A-Za-z0-9\-_.!~*'()]/.test(String.fromCharCode(b)) && b < 0x80 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function pathFor(rng: Rng, op: Operation, mutate: boolean): string {
  let path = op.path;
  for (const p of op.params) {
    let v = p.name === 'key' && rng.chance(0.7) ? `fz:${rng.int(0, 31)}` : stringFor(rng, { ...p.schema, maxLength: Math.min(p.schema.maxLength ?? 64, 64) });
    if (mutate && rng.chance(0.5)) {
      v = rng.pick<() => string>([
        () => '',
        () => '..',
        () => '%2e%2e%2f%2e%2e',
        () => '%',
        () => '%zz',
        () => '%00',
        () => '%ff%fe',
        () => 'x'.repeat(rng.skewed(200_000)),
        () => `${v}/${v}`,
        () => `${v}?x=1&x=2`,
        () => `${v}#frag`,
        () => percentEncode('\ud83d\ude00'),
      ])();
      path = path.replace(`{${p.name}}`, v);
    } else path = path.replace(`{${p.name}}`, percentEncode(v));
  }
  if (mutate && rng.chance(0.2))
    path = rng.pick([
      `/${path}`,
      `${path}/`,
      `${path}//x`,
      `${path}/..`,
      path.replace(/\//g, '\\'),
      `http://x${path}`,
      '*',
      `${path}?${'a=1&'.repeat(rng.skewed(10_000))}`,
    ]);
  return path;
}

/** One request: valid for `op`, or mutated in one or more of its parts. */
export function httpRequest(rng: Rng, ops: readonly Operation[], password: string, mutationRate: number): Buffer {
  const op = rng.pick(ops);
  const mutate = rng.chance(mutationRate);
  const valid = op.body ? validValue(rng, op.body) : undefined;
  let method = op.method;
  let body = valid === undefined ? '' : JSON.stringify(valid);
  const headers: [string, string][] = [['Host', 'raftkv']];
  if (password) headers.push(['Authorization', `Bearer ${password}`]);
  if (op.body) headers.push(['Content-Type', 'application/json']);
  let version = 'HTTP/1.1';
  let lengthOverride: string | undefined;
  let chunked = false;
  if (mutate) {
    for (let n = rng.int(1, 3); n > 0; n--) {
      switch (rng.int(0, 9)) {
        case 0:
          method = rng.pick(METHODS);
          break;
        case 1:
        case 2:
          body = mutateBody(rng, valid);
          if (!op.body && rng.chance(0.5)) headers.push(['Content-Type', 'application/json']);
          break;
        case 3: {
          const ct = headers.findIndex(([h]) => h === 'Content-Type');
          const value = rng.pick(CONTENT_TYPES);
          if (ct >= 0) headers[ct] = ['Content-Type', value];
          else headers.push(['Content-Type', value]);
          break;
        }
        case 4:
          lengthOverride = rng.pick([
            '-1',
            '0',
            String(body.length + 1),
            String(Math.max(0, body.length - 1)),
            '99999999999',
            '1e3',
            ' 5',
            `${body.length}, ${body.length}`,
            '0x10',
          ]);
          break;
        case 5:
          chunked = true;
          break;
        case 6:
          headers.push(
            rng.pick<[string, string]>([
              ['X-Big', 'x'.repeat(rng.skewed(100_000))],
              ['Authorization', rng.pick(['Bearer', 'Basic', 'Basic ZGVmYXVsdDo=', `Bearer ${'x'.repeat(rng.skewed(10_000))}`, 'Bearer \u00ff'])],
              ['Expect', '100-continue'],
              ['Connection', rng.pick(['close', 'upgrade', 'keep-alive, upgrade'])],
              ['Upgrade', 'websocket'],
              ['Transfer-Encoding', rng.pick(['gzip', 'chunked, identity', 'Chunked'])],
              ['Content-Encoding', rng.pick(['gzip', 'br', 'deflate'])],
              ['Host', ''],
              ['', 'empty-name'],
              ['Bad Header', 'x'],
            ]),
          );
          if (rng.chance(0.2)) for (let i = rng.skewed(2000); i > 0; i--) headers.push([`X-H${i}`, 'v']);
          break;
        case 7:
          version = rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9.9', 'http/1.1', '']);
          break;
        case 8:
          return mutateBytes(rng, render(method, pathFor(rng, op, false), version, headers, body, lengthOverride, chunked, rng));
        default:
          break;
      }
    }
  }
  return render(method, pathFor(rng, op, mutate), version, headers, body, lengthOverride, chunked, rng);
}

function render(
  method: string,
  path: string,
  version: string,
  headers: [string, string][],
  body: string,
  length: string | undefined,
  chunked: boolean,
  rng: Rng,
): Buffer {
  const bytes = Buffer.from(body);
  const all = [...headers];
  if (chunked) all.push(['Transfer-Encoding', 'chunked']);
  else if (length !== undefined || bytes.length > 0 || method !== 'GET') all.push(['Content-Length', length ?? String(bytes.length)]);
  const head = `${method} ${path} ${version}\r\n${all.map(([h, v]) => `${h}: ${v}\r\n`).join('')}\r\n`;
  if (!chunked) return Buffer.concat([Buffer.from(head), bytes]);
  // Chunk sizes right, wrong or absurd.
  const size = rng.pick([bytes.length.toString(16), (bytes.length + 1).toString(16), 'ffffffffffff', '-1', 'zz', `${bytes.length.toString(16)};ext=1`]);
  return Buffer.concat([
    Buffer.from(head),
    Buffer.from(`${size}\r\n`),
    bytes,
    Buffer.from(rng.pick(['\r\n0\r\n\r\n', '\r\n', '0\r\n\r\n', '\r\n0\r\nX-Trailer: 1\r\n\r\n'])),
  ]);
}

/** A keep-alive connection's worth of pipelined requests. */
export function httpSession(rng: Rng, ops: readonly Operation[], first: number, maxFrames: number, password: string): StreamSession {
  const frames = Math.min(maxFrames, 1 + rng.skewed(31));
  const mutationRate = rng.pick([0, 0.1, 0.3, 0.7, 1]);
  const parts: Buffer[] = [];
  for (let i = 0; i < frames; i++) parts.push(httpRequest(rng, ops, password, mutationRate));
  return {
    first,
    frames,
    writes: splitWrites(rng, Buffer.concat(parts)),
    reads: rng.chance(0.9),
    end: rng.pick(['wait', 'wait', 'fin', 'reset'] as const),
    holdMs: rng.skewed(3000),
  };
}
