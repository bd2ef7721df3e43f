// What the TCG profiles promise about the two leaf certificates, checked against what
// packages/tpm emits. An EK certificate (ek-certificate.ts, TCG EK Credential Profile for TPM
// Family 2.0) names its TPM in a subjectAltName directoryName (tcg-at-tpmManufacturer, -Model,
// -Version), carries the tcg-kp-EKCertificate extendedKeyUsage (2.23.133.8.1), the key usage of
// its key type (RSA: keyEncipherment, ECC: keyAgreement), is not a CA, and names the TPM
// specification in subjectDirectoryAttributes. An AK certificate (ak-certificate.ts, the IAK
// model; or a privacy CA's) certifies the AK's own key for signatures with tcg-kp-AIKCertificate
// (2.23.133.8.3); if it names a TPM, it is the EK certificate's; if it carries a
// hardwareModuleName, its serial is SHA-256 of the EK certificate's SubjectPublicKeyInfo.

import type { KeyObject } from 'node:crypto';
import type * as pkijs from 'pkijs';
import { AK_CERTIFICATE_EKU, TCG_OID, akHardwareSerial, ekBinding, type TpmIdentity } from '@sealkeep/tpm';
import { EXT_OID, KEY_USAGE_BIT, basicConstraints, extensionOf, keyUsage, type ParsedCert } from './certificates.js';
import type { FindingCollector } from './findings.js';

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const DIRECTORY_NAME = 4;

/** The TPM named by a certificate's subjectAltName directoryName, as far as it names it. */
export function tpmIdentityOf(c: pkijs.Certificate): Partial<TpmIdentity> | null {
  const san = extensionOf<pkijs.AltName>(c, EXT_OID.subjectAltName);
  const dn = san?.value.altNames?.find((n) => n.type === DIRECTORY_NAME)?.value as pkijs.RelativeDistinguishedNames | undefined;
  if (!dn) return null;
  const out: Partial<TpmIdentity> = {};
  const field = { [TCG_OID.tpmManufacturer]: 'manufacturer', [TCG_OID.tpmModel]: 'model', [TCG_OID.tpmVersion]: 'version' } as const;
  for (const tv of dn.typesAndValues) {
    const key = field[tv.type as keyof typeof field];
    if (key) out[key] = String((tv.value as { valueBlock: { value: unknown } }).valueBlock.value);
  }
  return Object.keys(out).length > 0 ? out : null;
}

const describe = (t: Partial<TpmIdentity> | null) => (t ? `manufacturer ${t.manufacturer ?? '-'}, model ${t.model ?? '-'}, version ${t.version ?? '-'}` : 'none');

/** Check the EK certificate against the profile; returns the TPM it names (null when incomplete). */
export function checkEkProfile(ek: ParsedCert, f: FindingCollector): TpmIdentity | null {
  const c = ek.cert;
  const tpm = tpmIdentityOf(c);
  const complete = tpm?.manufacturer && tpm.model && tpm.version ? (tpm as TpmIdentity) : null;
  if (!complete) {
    f.add('ek-certificate-tpm-identity-missing', 'the EK certificate does not name its TPM (subjectAltName directoryName with tcg-at-tpmManufacturer, tpmModel and tpmVersion)', {
      expected: 'manufacturer, model and version',
      found: describe(tpm),
    });
  }
  const eku = extensionOf<pkijs.ExtKeyUsage>(c, EXT_OID.extKeyUsage)?.value.keyPurposes ?? [];
  if (!eku.includes(TCG_OID.ekCertificate)) {
    f.add('ek-certificate-eku-missing', 'the EK certificate lacks the tcg-kp-EKCertificate extended key usage', { expected: TCG_OID.ekCertificate, found: eku.join(', ') || 'none' });
  }
  const keyAlg = c.subjectPublicKeyInfo.algorithm.algorithmId;
  const [bit, bitName] = keyAlg === RSA_ENCRYPTION ? [KEY_USAGE_BIT.keyEncipherment, 'keyEncipherment'] : [KEY_USAGE_BIT.keyAgreement, 'keyAgreement'];
  if (keyAlg !== RSA_ENCRYPTION && keyAlg !== EC_PUBLIC_KEY) {
    f.add('ek-certificate-key-usage-invalid', `the EK certificate's key is neither RSA nor ECC (${keyAlg})`);
  } else if (keyUsage(c, bit) !== true) {
    f.add('ek-certificate-key-usage-invalid', `an ${keyAlg === RSA_ENCRYPTION ? 'RSA' : 'ECC'} EK certificate must allow ${bitName}`, { expected: bitName, found: String(keyUsage(c, bit)) });
  }
  if (basicConstraints(c)?.cA) f.add('ek-certificate-is-ca', 'the EK certificate claims to be a CA (basicConstraints cA TRUE)');
  const sda = extensionOf<pkijs.SubjectDirectoryAttributes>(c, EXT_OID.subjectDirectoryAttributes);
  if (!sda?.value.attributes?.some((a) => a.type === TCG_OID.tpmSpecification)) {
    f.add('ek-certificate-specification-missing', 'the EK certificate does not name the TPM specification (subjectDirectoryAttributes tcg-at-tpmSpecification)');
  }
  return complete;
}

/** The AK certificate certifies this AK for signing, and names no other TPM than the EK's. */
export function checkAkCertificate(akCert: ParsedCert, akKey: KeyObject | null, ek: { cert: ParsedCert | null; tpm: TpmIdentity | null }, f: FindingCollector): void {
  const ekTpm = ek.tpm;
  if (akKey) {
    let certKey: Buffer | null = null;
    try {
      certKey = akCert.x509.publicKey.export({ type: 'spki', format: 'der' });
    } catch {
      certKey = null;
    }
    const akSpki = akKey.export({ type: 'spki', format: 'der' });
    if (!certKey?.equals(akSpki)) {
      f.add('ak-certificate-key-mismatch', 'the AK certificate certifies another key than the AK that signed the quote', {
        expected: akSpki.toString('base64'),
        found: certKey?.toString('base64') ?? 'unreadable',
      });
    }
  }
  const signs = keyUsage(akCert.cert, KEY_USAGE_BIT.digitalSignature);
  const ca = basicConstraints(akCert.cert)?.cA ?? false;
  if (signs === false || ca) {
    f.add('ak-certificate-key-usage-invalid', 'the AK certificate must certify a signing key that is not a CA', { expected: 'digitalSignature, cA FALSE', found: `digitalSignature ${signs}, cA ${ca}` });
  }
  const eku = extensionOf<pkijs.ExtKeyUsage>(akCert.cert, EXT_OID.extKeyUsage)?.value.keyPurposes ?? [];
  if (!eku.includes(AK_CERTIFICATE_EKU)) {
    f.add('ak-certificate-eku-missing', 'the AK certificate lacks the tcg-kp-AIKCertificate extended key usage', { expected: AK_CERTIFICATE_EKU, found: eku.join(', ') || 'none' });
  }
  checkEkBinding(akCert, ek.cert, f);
  const akTpm = tpmIdentityOf(akCert.cert);
  if (akTpm && ekTpm) {
    const differs = (['manufacturer', 'model', 'version'] as const).filter((k) => akTpm[k] !== undefined && akTpm[k] !== ekTpm[k]);
    if (differs.length > 0) {
      f.add('ak-ek-tpm-mismatch', `the AK certificate names another TPM than the EK certificate (${differs.join(', ')})`, { expected: describe(ekTpm), found: describe(akTpm) });
    }
  }
}

/** hardwareModuleName (RFC 4108) serial = SHA-256(EK certificate SPKI): the AK certificate names the EK it was issued beside. */
function checkEkBinding(akCert: ParsedCert, ekCert: ParsedCert | null, f: FindingCollector): void {
  let serial: Buffer | null;
  try {
    serial = akHardwareSerial(akCert.der);
  } catch {
    serial = null;
  }
  if (!serial) {
    f.add('ak-ek-binding-absent', 'the AK certificate carries no hardwareModuleName: it does not name the EK it belongs with');
    return;
  }
  if (!ekCert) return;
  const expected = ekBinding(ekCert.der);
  if (!expected.equals(serial)) {
    f.add('ak-ek-binding-mismatch', "the AK certificate's hardwareModuleName names another TPM's EK than the bundle's EK certificate", { expected: expected.toString('hex'), found: serial.toString('hex') });
  }
}

/** TPMS_ATTEST.firmwareVersion's upper 32 bits (TPM_PT_FIRMWARE_VERSION_1) as the profile's "id:XXXXXXXX". */
export function firmwareVersionId(firmwareVersion: bigint): string {
  return `id:${Number(firmwareVersion >> 32n).toString(16).toUpperCase().padStart(8, '0')}`;
}
