import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parsePeers, resolveConfig } from '../../src/node/config.ts';

describe('node configuration', () => {
  it('layers defaults < config file < environment < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkv-cfg-'));
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ port: 7000, 'tick-ms': 20, 'maxmemory-policy': 'allkeys-lru' }));
    const cfg = resolveConfig({ config: file, 'tick-ms': '30' }, { RAFTKV_PORT: '7100' });
    expect(cfg.port).toBe(7100);
    expect(cfg.tickMs).toBe(30);
    expect(cfg.maxmemoryPolicy).toBe('allkeys-lru');
    expect(cfg.httpPort).toBe(17100);
    expect(cfg.advertiseHost).toBe('127.0.0.1');
  });

  it('accepts hostnames and IP literals as bind addresses and peer hosts, IPv6 in brackets', () => {
    const cfg = resolveConfig({ host: '::', 'http-host': 'localhost', peers: 'n1=[::1]:7000:7001,n2=db-2.example.com:7002' }, {});
    expect(cfg.peers).toEqual([
      { id: 'n1', host: '::1', port: 7000, httpPort: 7001 },
      { id: 'n2', host: 'db-2.example.com', port: 7002, httpPort: 17002 },
    ]);
  });

  it('parses peers with and without an explicit HTTP port', () => {
    expect(parsePeers('n1=127.0.0.1:6379,n2=10.0.0.2:6380:9000')).toEqual([
      { id: 'n1', host: '127.0.0.1', port: 6379, httpPort: 16379 },
      { id: 'n2', host: '10.0.0.2', port: 6380, httpPort: 9000 },
    ]);
  });

  const bad: [string, Record<string, unknown>, Record<string, string>, string][] = [
    ['a non-numeric port', { port: 'abc' }, {}, "invalid setting 'port': expected an integer, got 'abc'"],
    ['a port out of range', {}, { RAFTKV_PORT: '70000' }, "invalid setting 'port': must be <= 65535"],
    ['an unknown policy', { 'maxmemory-policy': 'lfu' }, {}, "invalid setting 'maxmemory-policy': expected one of"],
    ['a malformed peer list', { peers: 'n1:6379' }, {}, "invalid setting 'peers': 'n1:6379' is not id=host:port"],
    ['peers without this node', { id: 'n9', peers: 'n1=127.0.0.1:6379' }, {}, "must include this node's id 'n9'"],
    ['duplicate peers', { peers: 'n1=a:1,n1=b:2' }, {}, "duplicate id 'n1'"],
    ['heartbeat >= election', { 'heartbeat-ticks': '10', 'election-ticks': '10' }, {}, "invalid setting 'heartbeat-ticks'"],
    ['a non-boolean join', {}, { RAFTKV_JOIN: 'maybe' }, "invalid setting 'join': expected true or false"],
    ['an HTTP bind address that is no IPv4 address', { 'http-host': '256.1.1.1' }, {}, "invalid setting 'http-host': '256.1.1.1' is not a valid IPv4 address"],
    ['a RESP bind address that is no hostname', {}, { RAFTKV_HOST: 'a b' }, "invalid setting 'host': 'a b' must be an IP address or a hostname"],
    ['an advertised host that is no hostname', { 'advertise-host': 'x..y' }, {}, "invalid setting 'advertise-host'"],
    ['a peer whose host is no hostname', { peers: 'n1=a b:1' }, {}, "invalid setting 'peers': 'n1=a b:1': the host 'a b' must be"],
    ['a peer whose host is no IPv4 address', { peers: 'n1=10.0.0.256:1' }, {}, "the host '10.0.0.256' is not a valid IPv4 address"],
    ['a bracketed peer host that is no IPv6 address', { peers: 'n1=[10.0.0.1]:1' }, {}, "the host '10.0.0.1' is not an IPv6 address"],
    ['a peer id that is too long', { id: 'a'.repeat(65), peers: `${'a'.repeat(65)}=h:1` }, {}, "invalid setting 'peers'"],
    ['a node id with a slash', { id: 'a/b' }, {}, "invalid setting 'id': 'a/b' must be 1-64 characters"],
    ['an empty data directory', { 'data-dir': '' }, {}, "invalid setting 'data-dir': must not be empty"],
  ];
  for (const [what, flags, env, message] of bad) {
    it(`rejects ${what}, naming the setting`, () => {
      expect(() => resolveConfig(flags, env)).toThrow(ConfigError);
      expect(() => resolveConfig(flags, env)).toThrow(message);
    });
  }

  it('rejects an unreadable, non-JSON or unknown-key config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftkv-cfg-'));
    expect(() => resolveConfig({ config: join(dir, 'missing.json') }, {})).toThrow(/'config': cannot read/);
    writeFileSync(join(dir, 'bad.json'), '{ port: ');
    expect(() => resolveConfig({ config: join(dir, 'bad.json') }, {})).toThrow(/is not valid JSON/);
    writeFileSync(join(dir, 'unknown.json'), '{"prot": 1}');
    expect(() => resolveConfig({ config: join(dir, 'unknown.json') }, {})).toThrow("invalid setting 'prot': unknown setting");
  });
});
