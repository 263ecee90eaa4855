/**
 * The RESP server's TLS listener on real loopback sockets with certificates made by openssl:
 * Redis's tls-auth-clients semantics (yes: a certificate from the CA is required; optional: none
 * is fine but a bad one is refused; no: none is asked for), the same Connection serving plain
 * and TLS clients (conn.tls tells them apart), `port: null` (Redis's `port 0`), and a plain-text
 * client on the TLS port costing only its own connection.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConn } from '../../src/resp/conn.ts';
import { R } from '../../src/resp/reply.ts';
import { type Dispatcher, RespServer, type TlsAuthClients } from '../../src/resp/server.ts';
import { makeCerts, type TestCerts } from '../support/certs.ts';
import { freePort } from '../support/cluster-harness.ts';

let certs: TestCerts;
const servers: RespServer[] = [];

beforeAll(() => {
  certs = makeCerts(['n1']);
});
afterAll(() => certs.remove());
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** PING answers PONG; TLS? answers whether the connection came in over TLS. */
const dispatcher: Dispatcher = {
  dispatch(conn: ClientConn, argv: Buffer[]) {
    return argv[0].toString().toUpperCase() === 'TLS?' ? R.simple(conn.tls ? 'yes' : 'no') : R.simple('PONG');
  },
};

async function start(authClients: TlsAuthClients, port: number | null = 0, maxClients = 100, onError = (_err: unknown) => {}) {
  const pem = certs.pem;
  const node = certs.node('n1');
  const server = new RespServer({
    dispatcher,
    port,
    maxClients,
    onError,
    tls: { port: 0, authClients, context: { cert: pem(node.cert), key: pem(node.key), ca: pem(certs.ca) } },
  });
  servers.push(server);
  await server.listen();
  return { server, tlsPort: server.tlsAddress()!.port };
}

type Who = 'none' | 'client' | 'other';

/** One command over TLS: its reply line, or 'refused' when the server cut the connection first. */
function overTls(port: number, who: Who, command = 'PING'): Promise<string> {
  const cert = who === 'none' ? undefined : who === 'client' ? certs.client : certs.other;
  return new Promise((resolve) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ca: certs.pem(certs.ca),
      ...(cert ? { cert: certs.pem(cert.cert), key: certs.pem(cert.key) } : {}),
    });
    let out = '';
    s.on('secureConnect', () => s.write(`*1\r\n$${command.length}\r\n${command}\r\n`));
    s.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.endsWith('\r\n')) {
        s.end();
        resolve(out.trim());
      }
    });
    s.on('error', () => {});
    s.on('close', () => resolve(out === '' ? 'refused' : out.trim()));
  });
}

function overPlain(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(payload));
    let out = '';
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.endsWith('\r\n')) s.end();
    });
    s.on('error', () => {});
    s.on('close', () => resolve(out.trim()));
  });
}

describe('RESP over TLS', () => {
  it('tls-auth-clients yes (the default): a certificate from the CA is required', async () => {
    const { tlsPort } = await start('yes');
    expect(await overTls(tlsPort, 'client')).toBe('+PONG');
    expect(await overTls(tlsPort, 'none')).toBe('refused');
    expect(await overTls(tlsPort, 'other')).toBe('refused');
  });

  it('tls-auth-clients optional: no certificate is fine, one from another CA is refused', async () => {
    const { tlsPort } = await start('optional');
    expect(await overTls(tlsPort, 'none')).toBe('+PONG');
    expect(await overTls(tlsPort, 'client')).toBe('+PONG');
    expect(await overTls(tlsPort, 'other')).toBe('refused');
  });

  it('tls-auth-clients no: no certificate is asked for', async () => {
    const { tlsPort } = await start('no');
    expect(await overTls(tlsPort, 'none')).toBe('+PONG');
    expect(await overTls(tlsPort, 'client')).toBe('+PONG');
  });

  it('serves plain and TLS clients side by side; the connection knows which it is', async () => {
    const { server, tlsPort } = await start('yes');
    expect(await overTls(tlsPort, 'client', 'TLS?')).toBe('+yes');
    expect(await overPlain(server.address().port, '*1\r\n$4\r\nTLS?\r\n')).toBe('+no');
  });

  it('port null serves TLS only', async () => {
    const { server, tlsPort } = await start('yes', null);
    expect(server.address().port).toBe(tlsPort);
    expect(await overTls(tlsPort, 'client')).toBe('+PONG');
  });

  it('sockets that never finish their handshake are capped at maxclients, and freed on close', async () => {
    const { server, tlsPort } = await start('yes', 0, 3);
    const idle: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = net.connect(tlsPort, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      idle.push(s);
    }
    await new Promise((r) => setTimeout(r, 50));
    // The fourth is closed at once, without a handshake.
    expect(await overTls(tlsPort, 'client')).toBe('refused');
    expect(server.stats.rejectedConnections).toBe(1);
    for (const s of idle) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(await overTls(tlsPort, 'client')).toBe('+PONG');
  });

  it('when the TLS port is taken, listen fails and the plain listener is released', async () => {
    const { tlsPort } = await start('yes');
    const pem = certs.pem;
    const node = certs.node('n1');
    const plainPort = await freePort();
    const second = new RespServer({
      dispatcher,
      port: plainPort,
      tls: { port: tlsPort, authClients: 'no', context: { cert: pem(node.cert), key: pem(node.key) } },
    });
    await expect(second.listen()).rejects.toThrow(/EADDRINUSE/);
    // The plain port is free again: another server can bind it.
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(plainPort, '127.0.0.1', () => resolve());
    });
    await new Promise((r) => probe.close(r));
  });

  it('a plain-text client on the TLS port loses only its own connection', async () => {
    const errors: unknown[] = [];
    const { tlsPort } = await start('yes', 0, 100, (err) => errors.push(err));
    expect(await overPlain(tlsPort, '*1\r\n$4\r\nPING\r\n')).not.toContain('PONG');
    expect(errors.length).toBe(1);
    expect(await overTls(tlsPort, 'client')).toBe('+PONG');
  });
});
