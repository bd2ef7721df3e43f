// The X.509 side of import evidence (docs/byok.md check 1): the AK and EK certificates issued and
// signed by the pinned manufacturer root and within their validity, the AK certificate's
// tcg-kp-AIKCertificate usage, and its binding to the EK certificate of the same TPM (the
// directory name both carry and the hardwareModuleName serial = SHA-256 of the EK's SPKI).
// Each function returns what held, or throws what did not (evidence-input.ts's fail).

import type { KeyObject, X509Certificate } from 'node:crypto';
import { AK_CERTIFICATE_EKU, akHardwareSerial, ekBinding } from '@sealkeep/tpm';
import { fail } from './evidence-input.js';

const commonName = (cert: X509Certificate) => /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? cert.subject.replace(/\n/g, ', ');

export function checkIssuedByRoot(cert: X509Certificate, root: X509Certificate, what: string): string {
  if (!cert.checkIssued(root)) fail(`the ${what} names another issuer (${cert.issuer.replace(/\n/g, ', ')}), not the pinned root "${commonName(root)}"`);
  if (!cert.verify(root.publicKey)) fail(`the ${what}'s signature does not verify with the pinned root's key`);
  return `the ${what} is signed by the pinned root "${commonName(root)}"`;
}

export function checkValidity(cert: X509Certificate, at: Date, what: string): string {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) fail(`the ${what}'s validity does not parse`);
  if (at < from) fail(`the ${what} is not valid before ${from.toISOString()}`);
  if (at > to) fail(`the ${what} expired at ${to.toISOString()}`);
  return `the ${what} is valid from ${from.toISOString()} to ${to.toISOString()}`;
}

export function checkAkUsage(ak: X509Certificate): string {
  const usages = ak.keyUsage ?? []; // node names the extended key usage list `keyUsage`
  if (!usages.includes(AK_CERTIFICATE_EKU)) fail(`the AK certificate lacks tcg-kp-AIKCertificate (${AK_CERTIFICATE_EKU}); its usages: ${usages.join(', ') || 'none'}`);
  return `the AK certificate is for an attestation key (tcg-kp-AIKCertificate, ${AK_CERTIFICATE_EKU})`;
}

const directoryName = (cert: X509Certificate) => /DirName:"(?:[^"\\]|\\.)*"/.exec(cert.subjectAltName ?? '')?.[0];

export function checkEkBinding(ak: X509Certificate, ek: X509Certificate): string {
  const akTpm = directoryName(ak);
  if (!akTpm || akTpm !== directoryName(ek)) fail('the AK and EK certificates do not name the same TPM manufacturer, model and version');
  const serial = akHardwareSerial(ak.raw);
  if (!serial) fail('the AK certificate has no hardwareModuleName binding it to an EK');
  if (!serial.equals(ekBinding(ek.raw))) fail("the AK certificate was issued beside another TPM's EK: its hardwareModuleName serial is not SHA-256 of this EK's public key");
  return "the AK certificate names this EK's TPM (hardwareModuleName serial = SHA-256 of the EK's SPKI)";
}

export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}
