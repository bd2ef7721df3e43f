// Offline verification of import evidence (`sealkeep.import-evidence.v1`, docs/byok.md): before a
// tenant wraps a key, its own machine checks that the wrapping key lives in a TPM whose
// manufacturer the tenant pinned. Every check of the contract's list is run and reported — a
// malformed field is a failed check, never an exception — and the wrapping public key is handed
// out only when all hold, built from the certified TPM public area (never from the PEM).

import type { KeyObject, X509Certificate } from 'node:crypto';
import { TPM_ALG, TPMA_OBJECT } from '@sealkeep/tpm';
import { checkAkUsage, checkEkBinding, checkIssuedByRoot, checkValidity, sameKey } from './evidence-certificates.js';
import { base64Field, certificateField, fail, hexField, lazy, parseCertificate, stringField } from './evidence-input.js';
import { checkAttestSignature, decodeCertifyAttest, decodePublicArea, importJobQualifyingData, nameOf, publicKeyOf } from './evidence-tpm.js';
import { IMPORT_EVIDENCE_FORMAT } from '@sealkeep/crypto';

export { importJobQualifyingData } from './evidence-tpm.js';

export { IMPORT_EVIDENCE_FORMAT };

/** The evidence of an import job, as the service sends it (base64 TPM structures, PEM certificates). */
export interface ImportEvidence {
  format: typeof IMPORT_EVIDENCE_FORMAT;
  importJobId: string;
  nonce: string;
  certify: { attest: string; signature: string };
  wrappingKey: { tpmPublic: string; name: string };
  attestationKey: { tpmPublic: string; certificatePem: string };
  ekCertificatePem: string;
  /** Informational: the verifier uses the root it pinned itself. */
  manufacturerRootPem?: string;
}

export interface EvidenceCheck {
  id: string;
  ok: boolean;
  message: string;
}

export interface ImportEvidenceVerdict {
  ok: boolean;
  checks: EvidenceCheck[];
  /** The certified wrapping key, present only when every check holds. */
  wrappingPublicKey?: KeyObject;
}

export interface VerifyImportEvidenceOptions {
  /** The manufacturer root the tenant obtained out of band (never from the service). */
  trustedRootPem: string;
  /** The job the evidence must be for, and the nonce the tenant sent when creating it. */
  importJobId: string;
  nonce: string;
  /** When the certificates must be valid (default: now). */
  at?: Date;
}

/** The wrapping key's required and forbidden TPMA_OBJECT bits (docs/byok.md check 5). */
const REQUIRED_ATTRIBUTES = ['fixedTPM', 'fixedParent', 'sensitiveDataOrigin', 'decrypt'] as const;
const FORBIDDEN_ATTRIBUTES = ['sign'] as const;
/** An attestation key is a TPM-bound restricted signing key. */
const AK_ATTRIBUTES = ['fixedTPM', 'restricted', 'sign'] as const;
const MIN_WRAPPING_KEY_BITS = 3072;

const bitsOf = (names: ReadonlyArray<keyof typeof TPMA_OBJECT>, attributes: number, set: boolean) => names.filter((n) => ((attributes & TPMA_OBJECT[n]) !== 0) === set);

export function verifyImportEvidence(evidence: unknown, opts: VerifyImportEvidenceOptions): ImportEvidenceVerdict {
  const at = opts.at ?? new Date();
  const root = lazy(() => parseCertificate(opts.trustedRootPem, 'the pinned manufacturer root'));
  const akCertificate = lazy(() => certificateField(evidence, 'attestationKey.certificatePem'));
  const ekCertificate = lazy(() => certificateField(evidence, 'ekCertificatePem'));
  const akArea = lazy(() => decodePublicArea(base64Field(evidence, 'attestationKey.tpmPublic'), 'attestationKey.tpmPublic'));
  const akKey = lazy(() => publicKeyOf(akArea().area, 'attestationKey.tpmPublic'));
  const wrappingArea = lazy(() => decodePublicArea(base64Field(evidence, 'wrappingKey.tpmPublic'), 'wrappingKey.tpmPublic'));
  const attest = lazy(() => base64Field(evidence, 'certify.attest'));
  const certified = lazy(() => decodeCertifyAttest(attest()));
  const expectedExtraData = lazy(() => importJobQualifyingData(opts.importJobId, opts.nonce));
  const rootFor = (cert: () => X509Certificate, what: string) => () => {
    const pinned = root();
    checkValidity(pinned, at, 'pinned manufacturer root');
    return checkIssuedByRoot(cert(), pinned, what);
  };
  let wrappingPublicKey: KeyObject | undefined;

  const checks: EvidenceCheck[] = [];
  const check = (id: string, run: () => string) => {
    try {
      checks.push({ id, ok: true, message: run() });
    } catch (e) {
      checks.push({ id, ok: false, message: e instanceof Error ? e.message : String(e) });
    }
  };

  check('evidence-format', () => {
    const format = stringField(evidence, 'format');
    if (format !== IMPORT_EVIDENCE_FORMAT) fail(`the evidence format is "${format}", not ${IMPORT_EVIDENCE_FORMAT}`);
    const jobId = stringField(evidence, 'importJobId');
    if (jobId !== opts.importJobId) fail(`the evidence is for import job ${jobId}, not ${opts.importJobId}`);
    if (stringField(evidence, 'nonce') !== opts.nonce) fail('the evidence carries another nonce than the one sent');
    return `${IMPORT_EVIDENCE_FORMAT} for import job ${jobId} and the nonce sent`;
  });
  // 1. The certificates under the pinned root.
  check('ak-certificate-chain', rootFor(akCertificate, 'AK certificate'));
  check('ak-certificate-validity', () => checkValidity(akCertificate(), at, 'AK certificate'));
  check('ak-certificate-usage', () => checkAkUsage(akCertificate()));
  check('ek-certificate-chain', rootFor(ekCertificate, 'EK certificate'));
  check('ek-certificate-validity', () => checkValidity(ekCertificate(), at, 'EK certificate'));
  check('ek-binding', () => checkEkBinding(akCertificate(), ekCertificate()));
  // 2. The certified AK is the TPM public area given.
  check('ak-public-key', () => {
    if (!sameKey(akCertificate().publicKey, akKey())) fail("the AK certificate's key is not the key of attestationKey.tpmPublic");
    const missing = bitsOf(AK_ATTRIBUTES, akArea().area.objectAttributes, false);
    if (missing.length) fail(`attestationKey.tpmPublic is not a restricted TPM signing key (${missing.join(', ')} clear)`);
    return "the AK certificate's key is the TPM's restricted signing key in attestationKey.tpmPublic";
  });
  // 3. The certification: signature, magic and type, qualifying data.
  check('certify-signature', () => {
    checkAttestSignature(attest(), base64Field(evidence, 'certify.signature'), akKey());
    return 'the attestation key signed the certification (ECDSA, SHA-256)';
  });
  check('certify-attest', () => {
    certified();
    return 'the TPM made the attestation (TPM_GENERATED_VALUE) and it is a TPM2_Certify (TPM_ST_ATTEST_CERTIFY)';
  });
  check('certify-extra-data', () => {
    if (!certified().extraData.equals(expectedExtraData())) fail(`the certification's qualifying data is not bound to import job ${opts.importJobId} and the nonce sent`);
    return `the certification is bound to import job ${opts.importJobId} and the nonce sent`;
  });
  // 4. The certified object is the wrapping key given.
  check('certified-name', () => {
    const name = nameOf(wrappingArea());
    if (!certified().certifiedName.equals(name)) fail('the certified Name is not the Name of wrappingKey.tpmPublic: the TPM certified another key');
    if (!hexField(evidence, 'wrappingKey.name').equals(name)) fail('wrappingKey.name is not the Name of wrappingKey.tpmPublic');
    return `the TPM certified the key of wrappingKey.tpmPublic (Name ${name.toString('hex')})`;
  });
  // 5. The wrapping key's attributes and strength.
  check('wrapping-key-attributes', () => {
    const attributes = wrappingArea().area.objectAttributes;
    const wrong = [...bitsOf(REQUIRED_ATTRIBUTES, attributes, false).map((n) => `${n} clear`), ...bitsOf(FORBIDDEN_ATTRIBUTES, attributes, true).map((n) => `${n} set`)];
    if (wrong.length) fail(`the wrapping key's attributes are wrong: ${wrong.join(', ')}`);
    return 'the wrapping key is decrypt-only, never leaves the TPM and was generated in it (fixedTPM, fixedParent, sensitiveDataOrigin, decrypt; sign clear)';
  });
  check('wrapping-key-size', () => {
    const { area } = wrappingArea();
    if (area.type !== TPM_ALG.RSA) fail(`the wrapping key is not an RSA key (type 0x${area.type.toString(16)})`);
    const key = publicKeyOf(area, 'wrappingKey.tpmPublic');
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_WRAPPING_KEY_BITS) fail(`the wrapping key is RSA ${bits}, less than RSA ${MIN_WRAPPING_KEY_BITS}`);
    wrappingPublicKey = key;
    return `the wrapping key is RSA ${bits}`;
  });

  const ok = checks.every((c) => c.ok);
  return ok && wrappingPublicKey ? { ok, checks, wrappingPublicKey } : { ok: false, checks };
}
