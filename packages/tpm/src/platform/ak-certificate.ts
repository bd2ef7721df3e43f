// The attestation key's certificate, issued by the manufacturer beside the EK certificate (the
// IAK model of TCG's "TPM 2.0 Keys for Device Identity and Attestation": the manufacturer
// creates the AK in the TPM it holds and certifies it at manufacture). An X.509 v3 certificate:
//   - empty subject; a critical subjectAltName with the same TPM directory name as the EK
//     certificate (manufacturer, model, version) and a hardwareModuleName (RFC 4108) whose
//     hwSerialNum is SHA-256 of the EK certificate's SubjectPublicKeyInfo, so it names the one
//     TPM whose EK it was issued beside;
//   - keyUsage digitalSignature (critical), basicConstraints cA FALSE (critical),
//     extendedKeyUsage tcg-kp-AIKCertificate (2.23.133.8.3), authorityKeyIdentifier.
// This module builds the TBSCertificate and reads the binding back; manufacturer-ca.ts signs it.

import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import {
  EXT,
  KEY_USAGE,
  authorityKeyIdentifier,
  basicConstraints,
  children,
  explicit,
  extension,
  keyUsage,
  name,
  octetString,
  oid,
  readElement,
  seq,
  uint,
  utf8,
  validity,
} from './asn1.js';
import { spkiOf, TCG_OID, type EkIssuer, type TpmIdentity } from './ek-certificate.js';

/** tcg-kp-AIKCertificate: the extended key usage of an attestation key's certificate. */
export const AK_CERTIFICATE_EKU = '2.23.133.8.3';
/** id-on-hardwareModuleName (RFC 4108 §5). */
export const HARDWARE_MODULE_NAME = '1.3.6.1.5.5.7.8.4';
/** The hwType of a TPM 2.0 in a hardwareModuleName (tcg-tpm20 in the TCG arc). */
export const TPM20_HARDWARE_TYPE = '2.23.133.1.2';

export interface AkCertificateFields {
  /** The AK's public key. */
  akPublicKey: KeyObject | Buffer;
  /** The EK certificate (DER) of the same TPM: its SPKI becomes the hardwareModuleName serial. */
  ekCertificate: Buffer;
  tpm: TpmIdentity;
  serialNumber: Buffer;
  notBefore: Date;
  notAfter: Date;
}

/** The hardwareModuleName serial that binds an AK certificate to an EK certificate. */
export function ekBinding(ekCertificate: Buffer): Buffer {
  const spki = new X509Certificate(ekCertificate).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest();
}

/**
 * ```
 * GeneralName ::= CHOICE { otherName [0] IMPLICIT OtherName, ... directoryName [4] Name ... }
 * OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY DEFINED BY type-id }
 * HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING }
 * ```
 */
function akSubjectAltName(tpm: TpmIdentity, serial: Buffer): Buffer {
  const directoryName = name([
    [TCG_OID.tpmManufacturer, utf8(tpm.manufacturer)],
    [TCG_OID.tpmModel, utf8(tpm.model)],
    [TCG_OID.tpmVersion, utf8(tpm.version)],
  ]);
  const hardwareModuleName = seq(oid(TPM20_HARDWARE_TYPE), octetString(serial));
  // [0] IMPLICIT OtherName: the SEQUENCE's tag becomes a constructed [0].
  const otherName = explicit(0, oid(HARDWARE_MODULE_NAME), explicit(0, hardwareModuleName));
  return extension(EXT.subjectAltName, true, seq(explicit(4, directoryName), otherName));
}

export function akTbsCertificate(fields: AkCertificateFields, issuer: EkIssuer): Buffer {
  const extensions = [
    akSubjectAltName(fields.tpm, ekBinding(fields.ekCertificate)),
    basicConstraints({ cA: false }),
    authorityKeyIdentifier(issuer.keyIdentifier),
    keyUsage(KEY_USAGE.digitalSignature),
    extension(EXT.extKeyUsage, false, seq(oid(AK_CERTIFICATE_EKU))),
  ];
  return seq(
    explicit(0, uint(2)),
    uint(fields.serialNumber),
    issuer.signatureAlgorithm.identifier,
    issuer.subject,
    validity(fields.notBefore, fields.notAfter),
    seq(),
    spkiOf(fields.akPublicKey),
    explicit(3, seq(...extensions)),
  );
}

/** The hardwareModuleName serial an AK certificate carries, or null when it has none. */
export function akHardwareSerial(akCertificate: Buffer): Buffer | null {
  const [tbs] = children(akCertificate);
  const fields = children(tbs!);
  const extensionsField = fields.find((f) => f.tag === 0xa3);
  if (!extensionsField) return null;
  const [list] = children(extensionsField);
  for (const ext of children(list!)) {
    const parts = children(ext);
    if (!parts[0]!.der.equals(oid(EXT.subjectAltName))) continue;
    const value = readElement(Buffer.from(parts[parts.length - 1]!.contents));
    for (const generalName of children(value)) {
      if (generalName.tag !== 0xa0) continue;
      const [typeId, wrapped] = children(generalName);
      if (!typeId!.der.equals(oid(HARDWARE_MODULE_NAME))) continue;
      const [hmn] = children(wrapped!);
      const [, serial] = children(hmn!);
      return Buffer.from(serial!.contents);
    }
  }
  return null;
}
