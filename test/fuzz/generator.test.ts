/**
 * The fuzzer's generators (tools/fuzz/): a seed replays the same bytes, one session can be
 * regenerated alone from its first iteration, unmutated inputs are valid for the real parsers
 * (the RESP request parser and command table, the peer codec), and the mutators change their
 * input without touching it in place.
 */
import { describe, expect, it } from 'vitest';
import { resolveCommand } from '../../src/resp/commands/table.ts';
import { RequestParser } from '../../src/resp/parser.ts';
import { decodeBatch, encodeBatch, messageSize } from '../../src/transport/codec.ts';
import { httpRequest, httpSession, operationsOf } from '../../tools/fuzz/http.ts';
import { BYTE_MUTATORS, mutateBytes, splitWrites } from '../../tools/fuzz/mutate.ts';
import { peerSession, raftMessage } from '../../tools/fuzz/peer.ts';
import { encodeCommand, RESP_MUTATORS, RespCommands, respSession } from '../../tools/fuzz/resp.ts';
import { Rng, sessionRng } from '../../tools/fuzz/rng.ts';

const cmds = new RespCommands();
const id = { clusterId: 'raftkv', nodeId: 'n1', peerId: 'fuzz-peer' };

/** The shape of the node's /openapi.json for two routes (the generator reads only these fields). */
const OPS = operationsOf({
  paths: {
    '/v1/kv/{key}': {
      get: { parameters: [{ in: 'path', name: 'key', schema: { type: 'string', minLength: 1, maxLength: 65536 } }] },
      put: {
        parameters: [{ in: 'path', name: 'key', schema: { type: 'string', minLength: 1, maxLength: 65536 } }],
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { value: { type: 'string' }, ttl_ms: { type: 'integer', minimum: 1 } }, required: ['value'] },
            },
          },
        },
      },
    },
    '/v1/cluster/members': {
      post: {
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  id: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', minLength: 1, maxLength: 64 },
                  host: { type: 'string', minLength: 1 },
                  port: { type: 'integer', minimum: 1, maximum: 65535 },
                },
                required: ['id', 'host', 'port'],
              },
            },
          },
        },
      },
    },
  },
});

/** Every session of a run of `total` iterations, as the runner generates them. */
function sessions<T extends { frames: number }>(seed: number, total: number, gen: (rng: Rng, first: number, max: number) => T): T[] {
  const out: T[] = [];
  for (let next = 0; next < total; ) {
    const s = gen(sessionRng(seed, next), next, total - next);
    out.push(s);
    next += s.frames;
  }
  return out;
}

const respBytes = (seed: number) => Buffer.concat(sessions(seed, 2000, (rng, first, max) => respSession(rng, cmds, first, max, '')).flatMap((s) => s.writes));
const httpBytes = (seed: number) => Buffer.concat(sessions(seed, 500, (rng, first, max) => httpSession(rng, OPS, first, max, '')).flatMap((s) => s.writes));
const peerBytes = (seed: number) =>
  Buffer.concat(sessions(seed, 500, (rng, first, max) => peerSession(rng, id, first, max, 250)).flatMap((s) => s.messages.map((m) => m.data)));

describe('fuzz generators are deterministic', () => {
  for (const [name, gen] of [
    ['resp', respBytes],
    ['http', httpBytes],
    ['peer', peerBytes],
  ] as const) {
    it(`${name}: the same seed gives the same bytes, another seed other bytes`, () => {
      const a = gen(7);
      expect(a.length).toBeGreaterThan(1000);
      expect(gen(7).equals(a)).toBe(true);
      expect(gen(8).equals(a)).toBe(false);
    });
  }

  it('a session regenerates alone from its first iteration (what --replay does)', () => {
    const all = sessions(11, 3000, (rng, first, max) => respSession(rng, cmds, first, max, ''));
    const target = all[Math.floor(all.length / 2)];
    const again = respSession(sessionRng(11, target.first), cmds, target.first, 3000 - target.first, '');
    expect(Buffer.concat(again.writes).equals(Buffer.concat(target.writes))).toBe(true);
  });

  it('sessions count every iteration exactly once', () => {
    const all = sessions(3, 5000, (rng, first, max) => respSession(rng, cmds, first, max, ''));
    expect(all.reduce((n, s) => n + s.frames, 0)).toBe(5000);
    expect(all[0].first).toBe(0);
    for (let i = 1; i < all.length; i++) expect(all[i].first).toBe(all[i - 1].first + all[i - 1].frames);
  });
});

describe('unmutated inputs are valid', () => {
  it('RESP requests from the command table parse and match their command and arity', () => {
    const rng = new Rng(5);
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const argv = cmds.valid(rng);
      const parser = new RequestParser();
      parser.push(encodeCommand(argv));
      const parsed = parser.next();
      expect(parsed).not.toBeNull();
      expect(Buffer.concat(parsed!).equals(Buffer.concat(argv))).toBe(true);
      const spec = resolveCommand(parsed!);
      expect(spec, argv.slice(0, 2).join(' ')).not.toBeNull();
      const ok = spec!.arity > 0 ? parsed!.length === spec!.arity : parsed!.length >= -spec!.arity;
      expect(ok, `${spec!.name}: ${parsed!.length} arguments for arity ${spec!.arity}`).toBe(true);
      seen.add(spec!.name);
    }
    // Nearly the whole table is reached (config|set is left out by default).
    expect(seen.size).toBeGreaterThan(cmds.specs.length * 0.9);
    expect(seen.has('config|set')).toBe(false);
  });

  it('peer Batches from the codec decode back to the messages', () => {
    const rng = new Rng(9);
    for (let i = 0; i < 500; i++) {
      const m = raftMessage(rng, id);
      const decoded = decodeBatch(encodeBatch([m], [messageSize(m)]));
      expect(decoded[0].type).toBe(m.type);
      expect(decoded[0].term).toBe(m.term);
      expect(decoded[0].entries.length).toBe(m.entries.length);
    }
  });

  it('HTTP requests carry a JSON body with every required property and a matching length', () => {
    const rng = new Rng(4);
    for (let i = 0; i < 300; i++) {
      const req = httpRequest(rng, OPS, 'pw', 0).toString();
      const [head, body] = [req.slice(0, req.indexOf('\r\n\r\n')), req.slice(req.indexOf('\r\n\r\n') + 4)];
      expect(head).toMatch(/^(GET|PUT|POST) \/v1\/\S+ HTTP\/1\.1\r\n/);
      expect(head).toContain('Authorization: Bearer pw');
      if (head.startsWith('GET')) continue;
      expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
      const json = JSON.parse(body) as Record<string, unknown>;
      if (head.startsWith('PUT')) expect(typeof json.value).toBe('string');
      else expect(Object.keys(json)).toEqual(expect.arrayContaining(['id', 'host', 'port']));
    }
  });
});

describe('mutators', () => {
  const input = encodeCommand(['SET', 'fz:1', 'hello world', 'PX', '1000']);

  for (const [name, mutate] of Object.entries(BYTE_MUTATORS)) {
    it(`${name} returns new bytes and leaves its input alone`, () => {
      const copy = Buffer.from(input);
      const rng = new Rng(1);
      let changed = 0;
      for (let i = 0; i < 50; i++) if (!mutate(rng, input).equals(input)) changed++;
      expect(input.equals(copy)).toBe(true);
      expect(changed).toBeGreaterThan(40);
    });
  }

  for (const [name, mutate] of Object.entries(RESP_MUTATORS)) {
    it(`RESP ${name} changes the request`, () => {
      const rng = new Rng(2);
      const argv = [Buffer.from('GET'), Buffer.from('fz:1')];
      let changed = 0;
      for (let i = 0; i < 50; i++) if (!mutate(rng, argv, cmds).equals(encodeCommand(argv))) changed++;
      expect(changed).toBeGreaterThan(40);
    });
  }

  it('hugeCount announces counts far beyond what follows; negativeLength negative lengths', () => {
    const rng = new Rng(3);
    const argv = [Buffer.from('GET'), Buffer.from('fz:1')];
    const heads = Array.from({ length: 100 }, () => RESP_MUTATORS.hugeCount(rng, argv, cmds).toString('latin1', 0, 24));
    expect(heads.some((h) => h.startsWith('*2147483647\r\n'))).toBe(true);
    const negs = Array.from({ length: 100 }, () => RESP_MUTATORS.negativeLength(rng, argv, cmds).toString('latin1'));
    expect(negs.some((f) => f.includes('$-2\r\n'))).toBe(true);
    expect(negs.some((f) => f.startsWith('*-'))).toBe(true);
  });

  it('hugeCount pads at most 8 MiB, however large the argument it repeats', () => {
    const rng = new Rng(5);
    const argv = [Buffer.from('SET'), Buffer.from('k'), Buffer.alloc(64 * 1024, 0x61)];
    let longest = 0;
    for (let i = 0; i < 2000; i++) longest = Math.max(longest, RESP_MUTATORS.hugeCount(rng, argv, cmds).length);
    expect(longest).toBeGreaterThan(1024 * 1024); // the padding is there
    expect(longest).toBeLessThanOrEqual(8 * 1024 * 1024 + 2 * 64 * 1024 + 64);
  });

  it('mutateBytes and splitWrites: same seed, same result; writes join back to the frame', () => {
    expect(mutateBytes(new Rng(6), input).equals(mutateBytes(new Rng(6), input))).toBe(true);
    const rng = new Rng(7);
    for (let i = 0; i < 100; i++) expect(Buffer.concat(splitWrites(rng, input)).equals(input)).toBe(true);
  });
});
