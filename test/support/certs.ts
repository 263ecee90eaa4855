/**
 * Certificates made at test time by scripts/make-certs.sh (Debian's openssl), for tests, chaos
 * runs and benchmarks that exercise TLS: a CA, node certificates (SAN 127.0.0.1, ::1,
 * localhost), a client certificate, and an unrelated CA with a certificate of its own.
 *
 *   const certs = makeCerts(['n1', 'n2', 'n3']);
 *   tls.connect({ port, ca: readFileSync(certs.ca), cert: ..., key: ... });
 *   certs.remove();
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/make-certs.sh', import.meta.url));

export interface CertPair {
  cert: string;
  key: string;
}

export interface TestCerts {
  dir: string;
  /** The CA that signed every node's and the client's certificate. */
  ca: string;
  node(name: string): CertPair;
  client: CertPair;
  /** A CA no node trusts, and a node certificate it signed. */
  otherCa: string;
  other: CertPair;
  /** PEM contents, for clients that take buffers (ioredis, node's tls). */
  pem(path: string): Buffer;
  remove(): void;
}

export function makeCerts(names: string[] = ['n1', 'n2', 'n3'], dir = mkdtempSync(join(tmpdir(), 'raftkv-certs-'))): TestCerts {
  execFileSync('sh', [SCRIPT, dir, ...names], { stdio: ['ignore', 'ignore', 'pipe'] });
  const pair = (name: string): CertPair => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    node: (name) => {
      if (!names.includes(name)) throw new Error(`no certificate was made for ${name}`);
      return pair(name);
    },
    client: pair('client'),
    otherCa: join(dir, 'other-ca.crt'),
    other: pair('other'),
    pem: (path) => readFileSync(path),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
