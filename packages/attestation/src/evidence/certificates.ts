// Certificate paths (RFC 5280 §6, the parts an offline attestation verifier needs): from a leaf
// through the CA certificates the bundle carries to one of the reviewer's trusted roots. PKI.js
// reads each certificate (names, extensions, validity); an issuer is a certificate whose subject is
// the certificate's issuer and whose subjectKeyIdentifier matches its authorityKeyIdentifier (when
// both are present), and its signature must verify — checked by OpenSSL through node:crypto's
// X509Certificate, some ten times faster than PKI.js's WebCrypto path. Every certificate met is
// checked for its validity period at the verification time; every issuer must be a CA
// (basicConstraints cA, keyUsage keyCertSign) within its path length. Parsed certificates are
// kept by digest (a reviewer checks many bundles against the same roots and CAs).

import { createHash, X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import type { FindingCollector } from './findings.js';

export interface ParsedCert {
  /** Where it came from, for messages: "ak certificate", "ek chain[0]", "trusted root 1". */
  label: string;
  der: Buffer;
  cert: pkijs.Certificate;
  x509: X509Certificate;
}

/** Parsed certificates by SHA-256 of their DER: read-only once parsed, so shared between verifications. */
const parsed = new Map<string, { cert: pkijs.Certificate; x509: X509Certificate }>();
const PARSED_MAX = 1024;

const OID_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.23.133.2.1': 'tpmManufacturer',
  '2.23.133.2.2': 'tpmModel',
  '2.23.133.2.3': 'tpmVersion',
};

export const EXT_OID = {
  subjectDirectoryAttributes: '2.5.29.9',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

/** RFC 5280 §4.2.1.3 bit numbers. */
export const KEY_USAGE_BIT = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, keyCertSign: 5 } as const;

interface HexView {
  valueBlock: { valueHexView: Uint8Array };
}

/** "CN=…, O=…" (or "(empty)") for messages. */
export function describeName(name: pkijs.RelativeDistinguishedNames): string {
  const parts = name.typesAndValues.map((t) => `${OID_NAMES[t.type] ?? t.type}=${String((t.value as { valueBlock: { value: unknown } }).valueBlock.value)}`);
  return parts.length > 0 ? parts.join(', ') : '(empty)';
}

export function parseCertificate(label: string, der: Buffer, f: FindingCollector, id: 'certificate-malformed' | 'trusted-root-malformed' = 'certificate-malformed'): ParsedCert | null {
  const key = createHash('sha256').update(der).digest('base64');
  try {
    let p = parsed.get(key);
    if (!p) {
      p = { cert: pkijs.Certificate.fromBER(der), x509: new X509Certificate(der) };
      if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
      parsed.set(key, p);
    }
    return { label, der, ...p };
  } catch (e) {
    f.add(id, `${label}: not an X.509 certificate: ${(e as Error).message}`);
    return null;
  }
}

/** The parsed value of an extension, if the certificate has it and PKI.js could parse it. */
export function extensionOf<T>(c: pkijs.Certificate, oid: string): { critical: boolean; value: T } | null {
  const ext = c.extensions?.find((e) => e.extnID === oid);
  const value = ext?.parsedValue as T | undefined;
  return ext && value !== undefined && value !== null ? { critical: ext.critical, value } : null;
}

/** Whether a keyUsage extension is present and, if so, whether `bit` is set. */
export function keyUsage(c: pkijs.Certificate, bit: number): 'absent' | boolean {
  const ku = extensionOf<HexView>(c, EXT_OID.keyUsage);
  if (!ku) return 'absent';
  const bits = ku.value.valueBlock.valueHexView;
  return ((bits[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0;
}

export function basicConstraints(c: pkijs.Certificate): { cA: boolean; pathLen?: number } | null {
  const bc = extensionOf<pkijs.BasicConstraints>(c, EXT_OID.basicConstraints);
  if (!bc) return null;
  const p = bc.value.pathLenConstraint;
  const pathLen = p === undefined ? undefined : typeof p === 'number' ? p : p.valueBlock.valueDec;
  return pathLen === undefined ? { cA: bc.value.cA } : { cA: bc.value.cA, pathLen };
}

const keyId = (c: pkijs.Certificate, which: 'subject' | 'authority'): Buffer | null => {
  if (which === 'subject') {
    const ski = extensionOf<HexView>(c, EXT_OID.subjectKeyIdentifier);
    return ski ? Buffer.from(ski.value.valueBlock.valueHexView) : null;
  }
  const aki = extensionOf<pkijs.AuthorityKeyIdentifier>(c, EXT_OID.authorityKeyIdentifier)?.value.keyIdentifier;
  return aki ? Buffer.from(aki.valueBlock.valueHexView) : null;
};

function mayHaveIssued(issuer: ParsedCert, child: ParsedCert): boolean {
  if (!child.cert.issuer.isEqual(issuer.cert.subject)) return false;
  const [aki, ski] = [keyId(child.cert, 'authority'), keyId(issuer.cert, 'subject')];
  return !aki || !ski || aki.equals(ski);
}

function signatureVerifies(child: ParsedCert, issuer: ParsedCert): boolean {
  try {
    return child.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

/** notBefore ≤ at ≤ notAfter. */
export function checkValidity(c: ParsedCert, at: Date, f: FindingCollector): void {
  const [from, to] = [c.cert.notBefore.value, c.cert.notAfter.value];
  const subject = describeName(c.cert.subject);
  if (at.getTime() > to.getTime()) {
    f.add('certificate-expired', `${c.label} (${subject}) expired before the verification time`, { expected: `valid at ${at.toISOString()}`, found: `notAfter ${to.toISOString()}` });
  } else if (at.getTime() < from.getTime()) {
    f.add('certificate-not-yet-valid', `${c.label} (${subject}) is not valid yet at the verification time`, { expected: `valid at ${at.toISOString()}`, found: `notBefore ${from.toISOString()}` });
  }
}

/**
 * Build and check the path from `leaf` through `intermediates` to one of `roots`. Returns the
 * path (leaf first, trusted root last) when it reaches a trusted root with every signature good.
 */
export function validatePath(leaf: ParsedCert, chain: ParsedCert[], roots: ParsedCert[], at: Date, f: FindingCollector): ParsedCert[] | null {
  const isRoot = (c: ParsedCert) => roots.some((r) => r.der.equals(c.der));
  const intermediates = chain.filter((c) => !isRoot(c)); // a bundle may carry the root too
  for (const c of [leaf, ...intermediates]) checkValidity(c, at, f);
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; !isRoot(current); depth++) {
    if (depth > 8) {
      f.add('certificate-untrusted-root', `${leaf.label}: no trusted root within 8 certificates`);
      return null;
    }
    const pool = [...roots, ...intermediates.filter((c) => !path.includes(c))];
    const candidates = pool.filter((c) => mayHaveIssued(c, current));
    if (candidates.length === 0) {
      const selfSigned = current.cert.issuer.isEqual(current.cert.subject);
      const why = selfSigned
        ? `ends at the self-signed ${current.label} (${describeName(current.cert.subject)}), which is not a trusted root`
        : `${current.label}'s issuer (${describeName(current.cert.issuer)}) is neither in the bundle nor a trusted root`;
      f.add('certificate-untrusted-root', `${leaf.label}: the chain ${why}`);
      return null;
    }
    const child = current;
    const issuer = candidates.find((c) => signatureVerifies(child, c));
    if (!issuer) {
      f.add('certificate-signature-invalid', `${current.label} (${describeName(current.cert.subject)}): its signature does not verify with the key of ${candidates.map((c) => c.label).join(' or ')}`);
      return null;
    }
    path.push(issuer);
    current = issuer;
  }
  if (path.length > 1) checkValidity(path[path.length - 1]!, at, f);
  checkIssuers(path, f);
  return path;
}

/** Every certificate above the leaf must be a CA allowed to sign certificates this deep. */
function checkIssuers(path: ParsedCert[], f: FindingCollector): void {
  path.slice(1).forEach((issuer, i) => {
    const bc = basicConstraints(issuer.cert);
    const ku = keyUsage(issuer.cert, KEY_USAGE_BIT.keyCertSign);
    if (!bc?.cA || ku === false) {
      f.add('certificate-issuer-not-ca', `${issuer.label} (${describeName(issuer.cert.subject)}) signed ${path[i]!.label} but is not a CA`, {
        expected: 'basicConstraints cA TRUE, keyUsage keyCertSign',
        found: `cA ${bc?.cA ?? 'absent'}, keyCertSign ${ku}`,
      });
    }
    // Intermediate CAs below this issuer (the leaf does not count): RFC 5280 §4.2.1.9.
    if (bc?.pathLen !== undefined && i > bc.pathLen) {
      f.add('certificate-path-length-exceeded', `${issuer.label} allows ${bc.pathLen} intermediate CA(s) below it, the path has ${i}`);
    }
  });
}
