// Test and bench support: a small attestation CA — a self-signed root and an issuing CA under it
// — that certifies attestation keys, built like the manufacturer CA (packages/tpm's DER helpers,
// signed with node:crypto). The manufacturer certifies the TPM's own AK at manufacture (the IAK
// model, packages/tpm ak-certificate.ts); this stands in for the other model, a privacy CA that
// certified an AK after TPM2_MakeCredential/ActivateCredential, giving a chain of three. Its AK
// certificates carry the TPM's identity (the EK certificate's subjectAltName directoryName),
// keyUsage digitalSignature and tcg-kp-AIKCertificate (2.23.133.8.3), and no hardwareModuleName.

import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { AK_CERTIFICATE_EKU, asn1, TCG_OID, type TpmIdentity } from '@sealkeep/tpm';
import { newKeyPair } from '@sealkeep/crypto';

export interface IssuedCert {
  der: Buffer;
  pem: string;
}

export interface CertSpec {
  subject: Buffer;
  issuer: { subject: Buffer; keyId: Buffer; key: KeyObject };
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}

const seconds = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
export const cn = (commonName: string, organization = 'Sealkeep Test Attestation CA') =>
  asn1.name([
    [asn1.AT.countryName, asn1.printable('US')],
    [asn1.AT.organizationName, asn1.utf8(organization)],
    [asn1.AT.commonName, asn1.utf8(commonName)],
  ]);

/** Issue any certificate (tests build odd chains with it): `extensions` come before SKI and AKI. */
export function issueCertificate(spec: CertSpec): IssuedCert {
  const spki = spec.publicKey.export({ type: 'spki', format: 'der' });
  const alg = asn1.signatureAlgorithmFor(spec.issuer.key);
  const tbs = asn1.seq(
    asn1.explicit(0, asn1.uint(2)),
    asn1.uint(asn1.randomSerial(randomBytes)),
    alg.identifier,
    spec.issuer.subject,
    asn1.validity(seconds(spec.notBefore), seconds(spec.notAfter)),
    spec.subject,
    spki,
    asn1.explicit(3, asn1.seq(...spec.extensions, asn1.subjectKeyIdentifier(asn1.keyIdentifier(spki)), asn1.authorityKeyIdentifier(spec.issuer.keyId))),
  );
  const der = asn1.signCertificate(tbs, alg, spec.issuer.key);
  return { der, pem: asn1.toPem('CERTIFICATE', der) };
}

export const caExtensions = (pathLenConstraint?: number) => [
  asn1.basicConstraints(pathLenConstraint === undefined ? { cA: true } : { cA: true, pathLenConstraint }),
  asn1.keyUsage(asn1.KEY_USAGE.keyCertSign, asn1.KEY_USAGE.cRLSign),
];

export interface AkCertificateRequest {
  akPublicKey: KeyObject;
  /** The host or VM the AK belongs to (the certificate's CN). */
  subject: string;
  /** The TPM, as its EK certificate names it. */
  tpm?: TpmIdentity;
  notBefore?: Date;
  notAfter?: Date;
  /** Leave the signing key usage out (a bad certificate, for tests). */
  withoutDigitalSignature?: boolean;
}

export class AttestationCa {
  private constructor(
    readonly root: IssuedCert,
    readonly issuing: IssuedCert,
    private readonly issuer: CertSpec['issuer'],
  ) {}

  /** A new root (ECDSA P-384) and issuing CA (ECDSA P-256, pathLen 0), both without expiry. */
  static create(name = 'Sealkeep Test Attestation'): AttestationCa {
    const rootKey = newKeyPair('ec', { namedCurve: 'P-384' }).privateKey;
    const caKey = newKeyPair('ec', { namedCurve: 'P-256' }).privateKey;
    const keyId = (k: KeyObject) => asn1.keyIdentifier(createPublicKey(k).export({ type: 'spki', format: 'der' }));
    const rootName = cn(`${name} Root`);
    const rootIssuer = { subject: rootName, keyId: keyId(rootKey), key: rootKey };
    const notBefore = new Date(Date.now() - 60_000);
    const root = issueCertificate({ subject: rootName, issuer: rootIssuer, publicKey: createPublicKey(rootKey), notBefore, notAfter: asn1.NO_EXPIRATION, extensions: caExtensions() });
    const caName = cn(`${name} Issuing CA`);
    const issuing = issueCertificate({ subject: caName, issuer: rootIssuer, publicKey: createPublicKey(caKey), notBefore, notAfter: asn1.NO_EXPIRATION, extensions: caExtensions(0) });
    return new AttestationCa(root, issuing, { subject: caName, keyId: keyId(caKey), key: caKey });
  }

  /** An AK certificate, valid for a year from now unless told otherwise. */
  issueAkCertificate(r: AkCertificateRequest): IssuedCert {
    const notBefore = r.notBefore ?? new Date(Date.now() - 60_000);
    const extensions = [asn1.basicConstraints({ cA: false })];
    if (!r.withoutDigitalSignature) extensions.push(asn1.keyUsage(asn1.KEY_USAGE.digitalSignature));
    else extensions.push(asn1.keyUsage(asn1.KEY_USAGE.keyAgreement));
    extensions.push(asn1.extension(asn1.EXT.extKeyUsage, false, asn1.seq(asn1.oid(AK_CERTIFICATE_EKU))));
    if (r.tpm) {
      const dn = asn1.name([
        [TCG_OID.tpmManufacturer, asn1.utf8(r.tpm.manufacturer)],
        [TCG_OID.tpmModel, asn1.utf8(r.tpm.model)],
        [TCG_OID.tpmVersion, asn1.utf8(r.tpm.version)],
      ]);
      extensions.push(asn1.extension(asn1.EXT.subjectAltName, false, asn1.seq(asn1.explicit(4, dn))));
    }
    return issueCertificate({
      subject: cn(`AK of ${r.subject}`, 'Sealkeep attested hosts'),
      issuer: this.issuer,
      publicKey: r.akPublicKey,
      notBefore,
      notAfter: r.notAfter ?? new Date(notBefore.getTime() + 365 * 86_400_000),
      extensions,
    });
  }
}
