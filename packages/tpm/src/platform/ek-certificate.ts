// The EK certificate of the TCG EK Credential Profile for TPM Family 2.0 (its "EK Certificate"
// fields): an X.509 v3 certificate with an empty subject whose critical subjectAltName names
// the TPM (manufacturer, model, firmware version), whose subjectDirectoryAttributes name the TPM
// specification it implements, and whose extendedKeyUsage is tcg-kp-EKCertificate. This module
// builds the TBSCertificate; the manufacturer CA (manufacturer-ca.ts) signs it.

import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  EXT,
  KEY_USAGE,
  authorityKeyIdentifier,
  basicConstraints,
  children,
  extension,
  explicit,
  keyUsage,
  name,
  oid,
  readElement,
  seq,
  setOf,
  uint,
  utf8,
  validity,
  type SignatureAlgorithm,
} from './asn1.js';

/** TCG OIDs (the EK Credential Profile's ASN.1 module; TCG arc 2.23.133). */
export const TCG_OID = {
  tpmManufacturer: '2.23.133.2.1',
  tpmModel: '2.23.133.2.2',
  tpmVersion: '2.23.133.2.3',
  tpmSpecification: '2.23.133.2.16',
  ekCertificate: '2.23.133.8.1',
} as const;

const ID_QT_UNOTICE = '1.3.6.1.5.5.7.2.2';
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';

/** The TPM the certificate describes (the profile's TPMManufacturer / TPMModel / TPMVersion). */
export interface TpmIdentity {
  /** "id:" and the TCG vendor ID as 8 hex digits, e.g. "id:534B4550" for "SKEP". */
  manufacturer: string;
  /** The TPM's model (part number). */
  model: string;
  /** "id:" and the firmware version as hex, e.g. "id:00010000". */
  version: string;
}

/** The TPM Library specification implemented (TPMSpecification). */
export interface TpmSpecification {
  family: string;
  level: number;
  revision: number;
}

export interface EkCertificateFields {
  /** The EK's public key: a node KeyObject or SubjectPublicKeyInfo DER. */
  ekPublicKey: KeyObject | Buffer;
  tpm: TpmIdentity;
  specification: TpmSpecification;
  /** Unsigned big-endian; positive and at most 20 octets once DER-encoded. */
  serialNumber: Buffer;
  notBefore: Date;
  notAfter: Date;
}

/** What the signing CA contributes to the certificate. */
export interface EkIssuer {
  /** The CA certificate's subject Name, DER, copied verbatim as the issuer. */
  subject: Buffer;
  /** The CA's subjectKeyIdentifier. */
  keyIdentifier: Buffer;
  signatureAlgorithm: SignatureAlgorithm;
}

/** "id:" and a 32-bit value as 8 upper-case hex digits (the profile's hex-string form). */
export function tcgId(value: number): string {
  return `id:${(value >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** The SubjectPublicKeyInfo DER of a public key given as a KeyObject or as SPKI DER. */
export function spkiOf(key: KeyObject | Buffer): Buffer {
  const k = Buffer.isBuffer(key) ? createPublicKey({ key, format: 'der', type: 'spki' }) : key;
  if (k.type !== 'public') throw new TypeError('the EK certificate takes a public key');
  return k.export({ type: 'spki', format: 'der' });
}

/** The EK's kind, from the SPKI algorithm: RSA EKs decrypt (keyEncipherment), ECC EKs agree keys. */
function ekKind(spki: Buffer): 'rsa' | 'ecc' {
  const [algorithm] = children(spki);
  const [algOid] = children(algorithm!);
  if (algOid!.der.equals(oid(RSA_ENCRYPTION))) return 'rsa';
  if (algOid!.der.equals(oid(EC_PUBLIC_KEY))) return 'ecc';
  throw new TypeError('an EK is an RSA or an ECC key');
}

// ---- the TCG extensions, each declared once; field names as in the EK Credential Profile ----
// (the RFC 5280 ones the root shares — basicConstraints, keyUsage, key identifiers — are in asn1.ts)

/**
 * Profile field "Certificate Policies" (non-critical, RFC 5280 §4.2.1.4):
 * ```
 * certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation
 * PolicyInformation ::= SEQUENCE { policyIdentifier CertPolicyId,
 *     policyQualifiers SEQUENCE SIZE (1..MAX) OF PolicyQualifierInfo OPTIONAL }
 * PolicyQualifierInfo ::= SEQUENCE { policyQualifierId PolicyQualifierId, qualifier ANY }
 * UserNotice ::= SEQUENCE { noticeRef NoticeReference OPTIONAL, explicitText DisplayText OPTIONAL }
 * ```
 * An emulated manufacturer has no policy OID of its own: anyPolicy, with the TCG's user notice.
 */
export function certificatePolicies(): Buffer {
  const userNotice = seq(oid(ID_QT_UNOTICE), seq(utf8('TCPA Trusted Platform Module Endorsement')));
  return extension(EXT.certificatePolicies, false, seq(seq(oid(EXT.anyPolicy), seq(userNotice))));
}

/**
 * Profile field "Subject Alternative Name" (critical, the subject being empty; RFC 5280 §4.2.1.6):
 * ```
 * SubjectAltName ::= GeneralNames
 * GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName
 * GeneralName ::= CHOICE { ... directoryName [4] Name ... }   -- EXPLICIT: Name is a CHOICE
 * TPMManufacturer ATTRIBUTE ::= { WITH SYNTAX UTF8String (SIZE (1..STRMAX)) ID tcg-at-tpmManufacturer }
 * TPMModel ATTRIBUTE ::= { WITH SYNTAX UTF8String (SIZE (1..STRMAX)) ID tcg-at-tpmModel }
 * TPMVersion ATTRIBUTE ::= { WITH SYNTAX UTF8String (SIZE (1..STRMAX)) ID tcg-at-tpmVersion }
 * ```
 * The three attributes form three single-valued RDNs, in that order.
 */
export function tpmSubjectAltName(tpm: TpmIdentity): Buffer {
  const directoryName = name([
    [TCG_OID.tpmManufacturer, utf8(tpm.manufacturer)],
    [TCG_OID.tpmModel, utf8(tpm.model)],
    [TCG_OID.tpmVersion, utf8(tpm.version)],
  ]);
  return extension(EXT.subjectAltName, true, seq(explicit(4, directoryName)));
}

/**
 * Profile field "Subject Directory Attributes" (non-critical, RFC 5280 §4.2.1.8):
 * ```
 * SubjectDirectoryAttributes ::= SEQUENCE SIZE (1..MAX) OF Attribute
 * Attribute ::= SEQUENCE { type AttributeType, values SET OF AttributeValue }
 * TPMSpecification ::= SEQUENCE { family UTF8String (SIZE (1..STRMAX)),
 *                                 level INTEGER, revision INTEGER }
 * ```
 */
export function tpmSpecificationAttributes(spec: TpmSpecification): Buffer {
  const value = seq(utf8(spec.family), uint(spec.level), uint(spec.revision));
  return extension(EXT.subjectDirectoryAttributes, false, seq(seq(oid(TCG_OID.tpmSpecification), setOf(value))));
}

/**
 * Profile field "Extended Key Usage" (non-critical, RFC 5280 §4.2.1.12):
 * ```
 * ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId
 * tcg-kp-EKCertificate OBJECT IDENTIFIER ::= { tcg-kp 1 }     -- 2.23.133.8.1
 * ```
 */
export function ekExtendedKeyUsage(): Buffer {
  return extension(EXT.extKeyUsage, false, seq(oid(TCG_OID.ekCertificate)));
}

/**
 * The TBSCertificate of an EK certificate:
 * ```
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, serialNumber,
 *     signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name,
 *     subjectPublicKeyInfo, ..., extensions [3] EXPLICIT Extensions OPTIONAL }
 * ```
 * Version 3; the subject an empty RDNSequence (the profile's "Subject" field); the SPKI as the key exports it:
 * rsaEncryption for an RSA EK (the profile also allows id-RSAES-OAEP, which common verifiers
 * such as OpenSSL do not take as a key type), id-ecPublicKey with the named curve for an ECC EK.
 */
export function ekTbsCertificate(fields: EkCertificateFields, issuer: EkIssuer): Buffer {
  const spki = spkiOf(fields.ekPublicKey);
  const serialNumber = uint(fields.serialNumber);
  if (fields.serialNumber.every((b) => b === 0) || readElement(serialNumber).contents.length > 20) {
    throw new RangeError('serialNumber: a positive integer of at most 20 octets (RFC 5280 §4.1.2.2)');
  }
  const kind = ekKind(spki);
  const extensions = [
    certificatePolicies(),
    tpmSubjectAltName(fields.tpm),
    basicConstraints({ cA: false }), // critical, as swtpm_cert writes it
    tpmSpecificationAttributes(fields.specification),
    authorityKeyIdentifier(issuer.keyIdentifier),
    // Key Usage: an RSA EK decrypts (keyEncipherment), an ECC EK agrees keys (keyAgreement)
    keyUsage(kind === 'rsa' ? KEY_USAGE.keyEncipherment : KEY_USAGE.keyAgreement),
    ekExtendedKeyUsage(),
  ];
  return seq(
    explicit(0, uint(2)),
    serialNumber,
    issuer.signatureAlgorithm.identifier,
    issuer.subject,
    validity(fields.notBefore, fields.notAfter),
    seq(),
    spki,
    explicit(3, seq(...extensions)),
  );
}
