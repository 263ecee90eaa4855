/**
 * The access policy both front ends share (src/node/access.ts): the secret comparison, what
 * counts as loopback, protected mode's decision, the start-up warning, and the Authorization
 * header parsing of the HTTP hook. The behaviour over real sockets is in
 * test/http/auth.test.ts and test/resp-node/protected-mode.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { presentedSecret } from '../../src/http/auth.ts';
import { exposureWarning, httpRefuses, isLoopbackAddress, isLoopbackHost, respRefuses, secretMatches } from '../../src/node/access.ts';
import { resolveConfig } from '../../src/node/config.ts';

describe('secretMatches', () => {
  it('matches the exact secret only, whatever the lengths', () => {
    expect(secretMatches('s3cret', 's3cret')).toBe(true);
    expect(secretMatches(Buffer.from('s3cret'), 's3cret')).toBe(true);
    expect(secretMatches('s3cre', 's3cret')).toBe(false);
    expect(secretMatches('s3cret!', 's3cret')).toBe(false);
    expect(secretMatches('', 's3cret')).toBe(false);
    expect(secretMatches('x'.repeat(100_000), 's3cret')).toBe(false);
    // The configured password is UTF-8; the bytes a client sends must be those bytes.
    expect(secretMatches(Buffer.from('pässwörd', 'utf8'), 'pässwörd')).toBe(true);
    expect(secretMatches(Buffer.from('pässwörd', 'latin1'), 'pässwörd')).toBe(false);
  });

  it('never matches when no secret is configured', () => {
    expect(secretMatches('', '')).toBe(false);
    expect(secretMatches('anything', '')).toBe(false);
  });
});

describe('loopback', () => {
  it('is 127.0.0.0/8, ::1 and IPv4-mapped 127.x', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3', '0:0:0:0:0:0:0:1']) {
      expect(isLoopbackAddress(a), a).toBe(true);
    }
  });

  it('is nothing else', () => {
    for (const a of [
      undefined,
      '',
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '192.0.2.2',
      '128.0.0.1',
      '::ffff:10.0.0.1',
      'fd00::2',
      '::2',
      'localhost',
      '127.0.0.1.evil',
    ]) {
      expect(isLoopbackAddress(a), String(a)).toBe(false);
    }
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('::')).toBe(false);
  });
});

describe('protected mode', () => {
  const cfg = (flags: Record<string, string>) => resolveConfig(flags, {});

  it('is on by default and refuses non-loopback clients while no password is set', () => {
    const c = cfg({});
    expect(c.protectedMode).toBe('yes');
    expect(respRefuses(c, '192.0.2.2')).toBe(true);
    expect(httpRefuses(c, '192.0.2.2')).toBe(true);
    expect(respRefuses(c, '127.0.0.1')).toBe(false);
    expect(httpRefuses(c, '::1')).toBe(false);
  });

  it('lets everyone in with a password, or when turned off', () => {
    expect(respRefuses(cfg({ requirepass: 'pw' }), '192.0.2.2')).toBe(false);
    expect(httpRefuses(cfg({ requirepass: 'pw' }), '192.0.2.2')).toBe(false);
    expect(respRefuses(cfg({ 'protected-mode': 'no' }), '192.0.2.2')).toBe(false);
    expect(httpRefuses(cfg({ 'protected-mode': 'no' }), '192.0.2.2')).toBe(false);
  });

  it('counts an http-token as a password for HTTP only', () => {
    const c = cfg({ 'http-token': 'tok' });
    expect(httpRefuses(c, '192.0.2.2')).toBe(false);
    expect(respRefuses(c, '192.0.2.2')).toBe(true);
  });

  it('rejects a protected-mode other than yes or no, naming the setting', () => {
    expect(() => cfg({ 'protected-mode': 'maybe' })).toThrow("invalid setting 'protected-mode': expected one of yes, no");
  });
});

describe('exposureWarning', () => {
  const warn = (flags: Record<string, string>) => exposureWarning(resolveConfig(flags, {}));

  it('is silent on loopback, or with a password', () => {
    expect(warn({})).toBeUndefined();
    expect(warn({ host: '0.0.0.0', 'http-host': '0.0.0.0', requirepass: 'pw' })).toBeUndefined();
  });

  it('names the exposed ports and what protected mode does about them', () => {
    expect(warn({ host: '0.0.0.0', port: '7000' })).toMatch(/^RESP on 0\.0\.0\.0:7000 bound .* protected mode refuses/);
    expect(warn({ 'http-host': '::' })).toMatch(/^HTTP on :::16379 bound/);
    expect(warn({ host: '0.0.0.0', 'http-host': '0.0.0.0', 'protected-mode': 'no' })).toMatch(
      /^RESP on 0\.0\.0\.0:6379 and HTTP on 0\.0\.0\.0:16379 bound .* protected mode off: anyone/,
    );
    // An http-token covers HTTP, not RESP.
    expect(warn({ host: '0.0.0.0', 'http-host': '0.0.0.0', 'http-token': 't' })).toMatch(/^RESP on 0\.0\.0\.0:6379 bound/);
  });
});

describe('presentedSecret', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s, 'latin1').toString('base64')}`;

  it('takes a Bearer token, or the password of Basic user default', () => {
    expect(presentedSecret('Bearer s3cret')?.toString()).toBe('s3cret');
    expect(presentedSecret('bearer  s3cret ')?.toString()).toBe('s3cret');
    expect(presentedSecret(basic('default:s3cret'))?.toString()).toBe('s3cret');
    expect(presentedSecret(basic('default:a:b'))?.toString()).toBe('a:b');
    expect(presentedSecret(basic('default:'))?.toString()).toBe('');
  });

  it('tells a missing header from an unusable one', () => {
    expect(presentedSecret(undefined)).toBeNull();
    expect(presentedSecret('')).toBeNull();
    expect(presentedSecret('Bearer')).toBeUndefined();
    expect(presentedSecret('Digest x')).toBeUndefined();
    expect(presentedSecret(basic('admin:s3cret'))).toBeUndefined();
    expect(presentedSecret(basic('nocolon'))).toBeUndefined();
  });
});
