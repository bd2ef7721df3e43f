// The listeners' TLS: the certificate chain and key an operator gives (PEM files), checked to load
// together and to be in their validity period; the identity they claim (the leaf's names and its
// issuer), which the measured configuration holds, so a renewal needs no approval and another
// identity does; and the one protocol policy every listener serves them with (TLS 1.2 or later,
// forward-secret AEAD suites only). Errors name the setting and the file, never the content.

import { X509Certificate } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

/** Where the certificate chain (leaf first) and its private key are, and which setting named them. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** How an error names them: the environment variables or the config file's keys. */
  from: 'environment' | 'config file';
}

/** Who the certificate says the service is: what stays the same across a renewal. */
export interface TlsIdentity {
  subjectAltName: string;
  issuer: string;
}

/** A chain and its key, read and checked; `key` never leaves through JSON (logs, errors). */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  identity: TlsIdentity;
  fingerprint: string;
  validTo: Date;
  /** The key file can be read by others than its owner (a warning, not a refusal: mounted secrets often are). */
  keyReadableByOthers: boolean;
}

/** A credentials problem: the message names the files and why, never their content. */
export class TlsCredentialsError extends Error {}

const TLS_SUITES = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** The options every listener's secure context is made with, at start and at each renewal alike. */
export function tlsContextOptions({ cert, key }: Pick<TlsCredentials, 'cert' | 'key'>): SecureContextOptions {
  return { cert, key, minVersion: 'TLSv1.2', ciphers: TLS_SUITES, honorCipherOrder: true };
}

const names = (files: TlsFiles) => (files.from === 'environment' ? { cert: 'SEALKEEP_TLS_CERT', key: 'SEALKEEP_TLS_KEY' } : { cert: 'tls.cert', key: 'tls.key' });

/** Reads and checks the pair: both readable, the key the leaf's, the leaf in its validity period at `now`. */
export function readTlsCredentials(files: TlsFiles, now = new Date()): TlsCredentials {
  const setting = names(files);
  // Each file opened once: its bytes and its mode are the same file's, even if it is swapped meanwhile.
  const read = (name: string, file: string): { data: Buffer; mode: number } => {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      return { data: readFileSync(fd), mode: fstatSync(fd).mode };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TlsCredentialsError(`${name} ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const { data: cert } = read(setting.cert, files.certFile);
  const { data: key, mode: keyMode } = read(setting.key, files.keyFile);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new TlsCredentialsError(`${setting.cert} ${files.certFile}: no PEM certificate in it`);
  }
  try {
    createSecureContext(tlsContextOptions({ cert, key }));
  } catch (e) {
    const reason = /mismatch/i.test((e as Error).message) ? "the key is not the certificate's (or the chain does not begin with the leaf)" : 'the certificate or the key cannot be loaded (a key with a passphrase is not supported)';
    throw new TlsCredentialsError(`${setting.cert} ${files.certFile} / ${setting.key} ${files.keyFile}: ${reason} (${(e as NodeJS.ErrnoException).code ?? 'invalid'})`);
  }
  const [from, to] = [new Date(leaf.validFrom), new Date(leaf.validTo)];
  if (now < from || now > to) throw new TlsCredentialsError(`${setting.cert} ${files.certFile}: valid from ${from.toISOString()} to ${to.toISOString()}, not now`);
  const credentials: TlsCredentials = {
    cert,
    key,
    identity: { subjectAltName: leaf.subjectAltName ?? '', issuer: leaf.issuer },
    fingerprint: leaf.fingerprint256,
    validTo: to,
    keyReadableByOthers: (keyMode & 0o077) !== 0,
  };
  Object.defineProperty(credentials, 'toJSON', { value: () => ({ identity: credentials.identity, fingerprint: credentials.fingerprint, validTo: to }) });
  return credentials;
}

/** Whether a renewal claims the identity the service started with (the measured one). */
export const sameIdentity = (a: TlsIdentity, b: TlsIdentity): boolean => a.subjectAltName === b.subjectAltName && a.issuer === b.issuer;
