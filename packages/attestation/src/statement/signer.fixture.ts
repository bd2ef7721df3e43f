// Test support: a signer of statements as the service's TPM is one — the evidence fixture's
// in-process TPM, its restricted ECDSA P-256 AK in the endorsement hierarchy signing through a
// TPM2_Hash ticket (signWithRestrictedKey), and an AK certificate from its emulated manufacturer
// (the IAK model: AK → manufacturer root). `certificate()` issues others (expired, another key).

import type { KeyObject } from 'node:crypto';
import { asn1, signWithRestrictedKey, TPM_RH } from '@sealkeep/tpm';
import { evidenceFixture, type EvidenceFixture } from '../evidence/evidence.fixture.js';

export interface StatementSigner {
  fx: EvidenceFixture;
  /** The AK's manufacturer certificate, PEM. */
  akCertificatePem: string;
  /** The manufacturer root, PEM: what a reviewer trusts. */
  trustedRoots: string[];
  /** ECDSA P-256 / SHA-256 by the TPM's AK, DER. */
  sign(statement: Buffer): Promise<Buffer>;
  /** Another certificate from the manufacturer, PEM. */
  certificate(r?: { akPublicKey?: KeyObject; notBefore?: Date; notAfter?: Date }): string;
}

export async function statementSigner(given?: EvidenceFixture): Promise<StatementSigner> {
  const fx = given ?? (await evidenceFixture());
  const certificate: StatementSigner['certificate'] = (r = {}) => asn1.toPem('CERTIFICATE', fx.issueAkCertificate(r));
  return {
    fx,
    akCertificatePem: certificate(),
    trustedRoots: [fx.manufacturer.toPem()],
    sign: async (statement) => (await signWithRestrictedKey(fx.client, fx.ak.handle, TPM_RH.ENDORSEMENT, statement)).der,
    certificate,
  };
}
