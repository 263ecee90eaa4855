/**
 * The node's TLS material, read and checked once at start, before anything listens: a missing
 * or unreadable file, a file that is not PEM, a key that does not match its certificate, or a
 * combination of settings that cannot work is a ConfigError naming the setting (exit 2).
 *
 * Three ports, two of them shared:
 *  - RESP over TLS (`tls-*`, Redis's names and semantics).
 *  - The HTTP port serves the API and the peer WebSocket route on one server, so HTTPS and
 *    peer TLS go together: peer TLS (`peer-*`, etcd's names) turns the port into HTTPS and the
 *    links into wss://. Its certificate is `http-cert-file` when set (say, one that API clients
 *    already trust), else `peer-cert-file`; peers verify it against `peer-trusted-ca-file`.
 *  - Client certificates are requested on that port but not demanded by the TLS layer (an API
 *    client without one may still connect); each route checks what it needs: the peer route a
 *    certificate chaining to `peer-trusted-ca-file` (`peer-client-cert-auth`), the API one
 *    chaining to `http-trusted-ca-file` (`http-client-cert-auth`). See `chainsTo`.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type PeerCertificate, type TLSSocket } from 'node:tls';
import { ConfigError, type NodeConfig } from './config.ts';

export interface PemPair {
  cert: Buffer;
  key: Buffer;
}

/** SHA-256 fingerprints of a CA bundle's certificates, as node's PeerCertificate spells them. */
export type CaSet = ReadonlySet<string>;

export interface NodeTls {
  /** RESP over TLS, when tls-port is set. */
  resp?: { port: number; context: PemPair & { ca?: Buffer }; authClients: NodeConfig['tlsAuthClients'] };
  /** The HTTP port's HTTPS options (fastify `https`), when peer TLS is on. */
  https?: PemPair & { ca: Buffer[]; requestCert: boolean; rejectUnauthorized: false; handshakeTimeout: number };
  /** What the peer route demands of a client certificate: undefined for nothing. */
  peerClientCa?: CaSet;
  /** What every other route demands: undefined for nothing. */
  apiClientCa?: CaSet;
  /** How this node dials its peers: with its certificate, trusting the peer CA. */
  peerDial?: PemPair & { ca: Buffer };
}

function read(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(setting, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Every certificate of a PEM file (a bundle may hold several); at least one. */
function certs(setting: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(setting, `${file} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ConfigError(setting, `${file} holds a certificate that cannot be parsed: ${(err as Error).message}`);
    }
  });
}

function pair(certSetting: string, certFile: string, keySetting: string, keyFile: string): PemPair {
  const cert = read(certSetting, certFile);
  certs(certSetting, certFile, cert);
  const key = read(keySetting, keyFile);
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(keySetting, `${keyFile} is not a PEM private key: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(keySetting, `${keyFile} does not match ${certSetting} ${certFile}: ${(err as Error).message}`);
  }
  return { cert, key };
}

function caSet(setting: string, file: string, pem: Buffer): CaSet {
  return new Set(certs(setting, file, pem).map((c) => c.fingerprint256));
}

function need(setting: string, value: string, why: string): string {
  if (value === '') throw new ConfigError(setting, `must be set ${why}`);
  return value;
}

/** How long a TLS client may take over its handshake on the HTTPS port. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The HTTP port speaks HTTPS, and peer links wss://, exactly when peer TLS is configured. */
export const secureHttp = (cfg: Pick<NodeConfig, 'peerCertFile'>): boolean => cfg.peerCertFile !== '';

/** Reads every TLS file the settings name; throws ConfigError. Nothing set: an empty object. */
export function loadTls(cfg: NodeConfig): NodeTls {
  const out: NodeTls = {};

  const respFiles = cfg.tlsCertFile || cfg.tlsKeyFile || cfg.tlsCaCertFile;
  if (cfg.tlsPort === 0 && respFiles) {
    throw new ConfigError('tls-port', 'must be set: tls-cert-file, tls-key-file or tls-ca-cert-file is set but serves nothing');
  }
  if (cfg.tlsPort !== 0) {
    const certFile = need('tls-cert-file', cfg.tlsCertFile, 'with --tls-port');
    const keyFile = need('tls-key-file', cfg.tlsKeyFile, 'with --tls-port');
    const context: PemPair & { ca?: Buffer } = pair('tls-cert-file', certFile, 'tls-key-file', keyFile);
    if (cfg.tlsAuthClients !== 'no') need('tls-ca-cert-file', cfg.tlsCaCertFile, `to check client certificates (or --tls-auth-clients no)`);
    if (cfg.tlsCaCertFile) {
      context.ca = read('tls-ca-cert-file', cfg.tlsCaCertFile);
      certs('tls-ca-cert-file', cfg.tlsCaCertFile, context.ca);
    }
    out.resp = { port: cfg.tlsPort, context, authClients: cfg.tlsAuthClients };
  }

  const peerOn = Boolean(cfg.peerCertFile || cfg.peerKeyFile || cfg.peerTrustedCaFile);
  const httpOn = Boolean(cfg.httpCertFile || cfg.httpKeyFile);
  const why = 'with peer TLS (peer-cert-file, peer-key-file and peer-trusted-ca-file go together)';
  if (httpOn && !peerOn) {
    throw new ConfigError('peer-cert-file', 'must be set with http-cert-file: the peer route shares the HTTPS port, so peer links use TLS too');
  }
  if (cfg.httpClientCertAuth && !peerOn) throw new ConfigError('http-client-cert-auth', 'needs HTTPS (peer-cert-file and the other peer TLS settings)');
  if (cfg.httpTrustedCaFile && !cfg.httpClientCertAuth) {
    throw new ConfigError('http-trusted-ca-file', 'has no effect without --http-client-cert-auth');
  }
  if (!peerOn) return out;

  const peer = pair('peer-cert-file', need('peer-cert-file', cfg.peerCertFile, why), 'peer-key-file', need('peer-key-file', cfg.peerKeyFile, why));
  const peerCaFile = need('peer-trusted-ca-file', cfg.peerTrustedCaFile, why);
  const peerCa = read('peer-trusted-ca-file', peerCaFile);
  const peerCas = caSet('peer-trusted-ca-file', peerCaFile, peerCa);
  let server = peer;
  if (httpOn) {
    const why = 'with http-cert-file (the two go together)';
    server = pair('http-cert-file', need('http-cert-file', cfg.httpCertFile, why), 'http-key-file', need('http-key-file', cfg.httpKeyFile, why));
  }
  const ca = [peerCa];
  if (cfg.httpClientCertAuth) {
    const file = need('http-trusted-ca-file', cfg.httpTrustedCaFile, 'with --http-client-cert-auth');
    const pem = read('http-trusted-ca-file', file);
    out.apiClientCa = caSet('http-trusted-ca-file', file, pem);
    ca.push(pem);
  }
  if (cfg.peerClientCertAuth) out.peerClientCa = peerCas;
  out.https = {
    ...server,
    ca,
    requestCert: cfg.peerClientCertAuth || cfg.httpClientCertAuth,
    rejectUnauthorized: false,
    // As on the RESP TLS port (node's default is 120 s): a socket that never finishes its
    // handshake is not held for long.
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  };
  out.peerDial = { ...peer, ca: peerCa };
  return out;
}

/**
 * Whether the client of `socket` presented a certificate that verified (against the server's
 * whole CA list) through a chain containing one of `cas`: the server trusts the union of the
 * peer and API CAs, and this tells which of them vouched for the client.
 */
export function chainsTo(socket: TLSSocket, cas: CaSet): boolean {
  if (!socket.authorized) return false;
  let cert: PeerCertificate & { issuerCertificate?: PeerCertificate } = socket.getPeerCertificate(true);
  for (let depth = 0; depth < 16 && cert && Object.keys(cert).length > 0; depth++) {
    if (cas.has(cert.fingerprint256)) return true;
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return false;
}
