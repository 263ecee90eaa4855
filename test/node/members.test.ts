/**
 * The one validator for node ids, hosts, ports and member records (src/node/addresses.ts,
 * src/node/members.ts): what it accepts, what it refuses and with which field, and that every
 * record it accepts becomes a peer URL that parses. The cluster-level proof (a poison entry in
 * a real 3-node cluster) is test/integration/poison-entry.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/kv/prng.ts';
import { hostPort, hostProblem, nodeIdProblem, portProblem } from '../../src/node/addresses.ts';
import { checkMember, decodeMember, encodeMember, InvalidMemberError, Members, raftUrl } from '../../src/node/members.ts';

const enc = new TextEncoder();

describe('address rules', () => {
  it('accepts IP literals and RFC 1123 hostnames', () => {
    for (const h of ['127.0.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'localhost', 'n1', 'db-1.example.com', 'example.com.', 'a'.repeat(63), '3com.net']) {
      expect(hostProblem(h), h).toBeUndefined();
    }
  });

  it('refuses what is neither', () => {
    const bad = [
      'a b',
      '',
      '256.1.1.1',
      '1.2.3',
      '-a.com',
      'a-.com',
      'a..b',
      'a_b',
      'http://x',
      'x:80',
      '[::1]',
      'a'.repeat(64),
      `${'a.'.repeat(126)}aa`,
      'é.com',
      'a\nb',
      'a/b',
      'fe80::1%eth0',
    ];
    for (const h of bad) expect(hostProblem(h), JSON.stringify(h)).toBeDefined();
    expect(hostProblem(42)).toBe('must be a string');
  });

  it('checks ids and ports', () => {
    expect(nodeIdProblem('n1')).toBeUndefined();
    expect(nodeIdProblem('a'.repeat(64))).toBeUndefined();
    for (const id of ['', 'a'.repeat(65), 'a b', 'n1/..', 'ü', 7]) expect(nodeIdProblem(id), String(id)).toBeDefined();
    expect(portProblem(1)).toBeUndefined();
    expect(portProblem(65535)).toBeUndefined();
    for (const p of [0, 65536, 1.5, '80', -1, Number.NaN]) expect(portProblem(p), String(p)).toBeDefined();
  });

  it('brackets IPv6 literals so that URLs parse', () => {
    expect(hostPort('::1', 80)).toBe('[::1]:80');
    expect(hostPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(new URL(raftUrl({ id: 'x', host: '::1', port: 1, httpPort: 2 })).port).toBe('2');
  });
});

describe('member records', () => {
  const good = { id: 'n4', host: '10.0.0.4', port: 6379, httpPort: 16379 };

  it('names the offending field', () => {
    const field = (v: unknown) => {
      try {
        checkMember(v);
        return 'accepted';
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidMemberError);
        return (err as InvalidMemberError).field;
      }
    };
    expect(field(good)).toBe('accepted');
    expect(field({ ...good, host: 'a b' })).toBe('host');
    expect(field({ ...good, id: '' })).toBe('id');
    expect(field({ ...good, port: 0 })).toBe('port');
    expect(field({ ...good, httpPort: '1' })).toBe('httpPort');
    expect(field(null)).toBe('record');
    expect(field([good])).toBe('record');
  });

  it('decodes what it encodes and refuses the poison record of issue 10', () => {
    expect(decodeMember(encodeMember(good))).toEqual(good);
    expect(decodeMember(undefined)).toBeUndefined();
    expect(() => decodeMember(enc.encode('{"id":"x","host":"a b","port":1,"httpPort":1}'))).toThrow(/host/);
    expect(() => decodeMember(enc.encode('{not json'))).toThrow(InvalidMemberError);
    expect(() => decodeMember(enc.encode(JSON.stringify({ ...good, host: 'a'.repeat(5000) })))).toThrow(InvalidMemberError);
  });

  it('restores a snapshot address book without its unusable records', () => {
    const book = new Members([good]);
    const problems = book.restore(
      enc.encode(
        JSON.stringify([
          { id: 'n1', host: '127.0.0.1', port: 1, httpPort: 2 },
          { id: 'x', host: 'a b', port: 1, httpPort: 1 },
        ]),
      ),
    );
    expect(problems).toHaveLength(1);
    expect(book.all().map((m) => m.id)).toEqual(['n1']);
    expect(book.restore(enc.encode('garbage'))).toHaveLength(1);
    expect(book.all().map((m) => m.id)).toEqual(['n1']);
  });

  it('makes a URL that parses from every random host it accepts', () => {
    const rng = mulberry32(10);
    const chars = 'ab09.-:%[]_ fF';
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const host = Array.from({ length: 1 + Math.floor(rng() * 12) }, () => chars[Math.floor(rng() * chars.length)]).join('');
      if (hostProblem(host) !== undefined) continue;
      accepted++;
      expect(() => new URL(raftUrl({ id: 'x', host, port: 1, httpPort: 2 })), host).not.toThrow();
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('makes a URL that parses from every record it accepts', () => {
    for (const host of ['::1', '::ffff:127.0.0.1', 'example.com', '192.168.0.1', 'n1.']) {
      expect(() => new URL(raftUrl(checkMember({ ...good, host })))).not.toThrow();
    }
  });
});
