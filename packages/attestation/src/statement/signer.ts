// The signer of a statement the service TPM's attestation key signed (a volume attestation, a VM
// boot statement): the AK certificate — PEM, the AK's own certificate first and any CA
// certificates above it after, or base64 DER — checked with the evidence verifier's certificate
// path (to one of the reviewer's roots, validity at the verification time, CA constraints) and its
// TCG AK profile (keyUsage digitalSignature, not a CA, tcg-kp-AIKCertificate 2.23.133.8.3); its
// key, an ECDSA P-256 key, then checks the statement's ECDSA/SHA-256 signature (DER). The
// signature is checked whatever the path says: each failure is its own finding.

import { createHash, verify, type KeyObject } from 'node:crypto';
import { decodeCertificates } from '../evidence/bundle.js';
import { describeName, parseCertificate, validatePath, type ParsedCert } from '../evidence/certificates.js';
import { FindingCollector } from '../evidence/findings.js';
import { checkAkCertificate } from '../evidence/tcg-profile.js';
import type { FindingSink, SignerFindingId } from './findings.js';

export type TrustedRoots = ReadonlyArray<string | Uint8Array>;

export interface SignerCheck {
  /** The AK certificate's key when it is ECDSA P-256 (the signature is checked with it either way). */
  key: KeyObject | null;
  /** SHA-256 of the AK's SubjectPublicKeyInfo, hex. */
  akFingerprint?: string;
  /** Who issued the AK certificate, for reports. */
  issuer?: string;
  /** The AK certificate reached a trusted root with every signature good. */
  trusted: boolean;
}

/** The reviewer's roots: PEM text (one or more certificates) or DER each. */
export function parseTrustedRoots(roots: TrustedRoots, f: FindingCollector): ParsedCert[] {
  return roots.flatMap((r, i) => {
    const ders = typeof r === 'string' ? decodeCertificates(r) : [Buffer.from(r)];
    if (!ders) f.add('trusted-root-malformed', `trusted root ${i + 1}: neither PEM certificates nor DER`);
    return (ders ?? []).map((der, j) => parseCertificate(`trusted root ${i + 1}${j ? `.${j + 1}` : ''}`, der, f, 'trusted-root-malformed')).filter((c): c is ParsedCert => c !== null);
  });
}

/** Check the AK certificate (and the CA certificates after it) against the reviewer's roots at `at`. */
export function checkAkSigner(certificate: unknown, trustedRoots: TrustedRoots, at: Date, f: FindingSink<SignerFindingId>): SignerCheck {
  const scratch = new FindingCollector();
  const out: SignerCheck = { key: null, trusted: false };
  const roots = parseTrustedRoots(trustedRoots, scratch);
  if (certificate === null || certificate === undefined || certificate === '') {
    scratch.add('ak-certificate-missing', 'no AK certificate: nothing vouches that the key that signed the statement lives in a genuine TPM');
    f.absorb(scratch.findings);
    return out;
  }
  const ders = decodeCertificates(certificate);
  if (!ders) {
    scratch.add('certificate-malformed', 'the AK certificate is neither PEM certificates nor base64 DER');
    f.absorb(scratch.findings);
    return out;
  }
  const [leaf, ...chain] = ders.map((der, i) => parseCertificate(i === 0 ? 'ak certificate' : `ak chain[${i - 1}]`, der, scratch));
  if (leaf) {
    out.issuer = describeName(leaf.cert.issuer);
    out.trusted = validatePath(leaf, chain.filter((c): c is ParsedCert => c !== null), roots, at, scratch) !== null;
    checkAkCertificate(leaf, null, { cert: null, tpm: null }, scratch);
  }
  f.absorb(scratch.findings);
  if (!leaf) return out;
  const key = leaf.x509.publicKey;
  out.akFingerprint = createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    f.add('ak-certificate-key-unsupported', 'the AK certificate certifies no ECDSA P-256 key: the statement format is signed with ECDSA P-256 / SHA-256', {
      expected: 'ec prime256v1',
      found: `${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}`,
    });
    return out;
  }
  out.key = key;
  return out;
}

/** Whether `sig` is exactly DER SEQUENCE { INTEGER r, INTEGER s } (short-form lengths: P-256 fits). */
function isEcdsaDer(sig: Buffer): boolean {
  if (sig.length < 8 || sig[0] !== 0x30 || sig[1] !== sig.length - 2) return false;
  let at = 2;
  for (let i = 0; i < 2; i++) {
    if (sig[at] !== 0x02) return false;
    const len = sig[at + 1]!;
    if (len === 0 || len > 33 || at + 2 + len > sig.length) return false;
    at += 2 + len;
  }
  return at === sig.length;
}

/** The statement's ECDSA P-256 / SHA-256 signature (DER) with the AK certificate's key. */
export function checkStatementSignature(statement: Buffer, signature: Buffer | null, key: KeyObject | null, f: FindingSink<SignerFindingId>): boolean {
  if (!signature) return false; // the parser reported it
  if (!isEcdsaDer(signature)) {
    f.add('signature-malformed', 'the signature is not a DER ECDSA signature (SEQUENCE { INTEGER r, INTEGER s })');
    return false;
  }
  if (!key) return false; // the certificate's findings say why
  let good = false;
  try {
    good = verify('sha256', statement, { key, dsaEncoding: 'der' }, signature);
  } catch {
    good = false;
  }
  if (!good) f.add('signature-invalid', "the ECDSA P-256 / SHA-256 signature does not verify over the statement with the AK certificate's key: the statement or the signature was changed, or another key signed it");
  return good;
}

/** A UUID's 16 bytes (RFC 9562 text form, any case), or null. */
export function uuidBytes(v: unknown): Buffer | null {
  return typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? Buffer.from(v.replaceAll('-', ''), 'hex') : null;
}

/** The lower-case text form of 16 bytes. */
/** A signed time (ms since 1970) for a report: ISO 8601, or the raw count when it is no date. */
export function isoOf(ms: bigint): string {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}

export function uuidOf(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
