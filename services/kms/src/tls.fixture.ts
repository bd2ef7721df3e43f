// Test set-up: a certificate authority of the test's own and server certificates it issues
// (openssl, ECDSA P-256; for 127.0.0.1 and localhost), as an operator would give the service.

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface TestCa {
  /** The authority's certificate (PEM): what a client trusts; and its file (NODE_EXTRA_CA_CERTS). */
  ca: Buffer;
  caFile: string;
  /** A new server certificate and key signed by the authority, as PEM files in the directory (for 127.0.0.1 and localhost, or the names given). */
  issue(name: string, subjectAltName?: string): { certFile: string; keyFile: string; fingerprint: string };
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function testCa(dir: string): TestCa {
  const [caKey, caCert] = [path.join(dir, 'ca.key'), path.join(dir, 'ca.pem')];
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', '/CN=Sealkeep test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  return {
    ca: readFileSync(caCert),
    caFile: caCert,
    issue(name, subjectAltName = 'IP:127.0.0.1,DNS:localhost') {
      const [keyFile, csr, certFile, extensions] = ['key', 'csr', 'pem', 'cnf'].map((ext) => path.join(dir, `${name}.${ext}`)) as [string, string, string, string];
      writeFileSync(extensions, `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth\n`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
      openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extensions]);
      return { certFile, keyFile, fingerprint: new X509Certificate(readFileSync(certFile)).fingerprint256 };
    },
  };
}

/** GET `path` over TLS, trusting `ca` only: the status, the body and the fingerprint of the certificate the server showed. */
export function getOverTls(port: number, urlPath: string, ca: Buffer): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca, agent: false }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, fingerprint }));
    });
    req.on('error', reject);
  });
}
