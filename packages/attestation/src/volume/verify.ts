// verifyVolumeAttestation(): a volume attestation checked offline, with nothing but the reviewer's
// manufacturer root(s) and, optionally, the volume's sector tags. Every check runs and adds its
// findings (a failure never stops the others): the JSON's shape; the statement (magic, version,
// length) and each of its fields against the JSON's; the ECDSA P-256 / SHA-256 signature with the
// AK certificate's key; the AK certificate's path to a trusted root, validity and TCG AK profile;
// and, given the tags, their count against the signed sector count and their RFC 6962 Merkle root
// against the signed root. The signed statement is what counts: the JSON's fields only repeat it.

import { merkleRoot, TAG_BYTES } from '@sealkeep/crypto';
import { decodeBase64, jsonObjectOf } from '../evidence/bundle.js';
import { Findings, type Finding } from '../statement/findings.js';
import { checkAkSigner, checkStatementSignature, isoOf, type TrustedRoots } from '../statement/signer.js';
import { decodeVolumeStatement, VOLUME_ATTESTATION_FORMAT, type VolumeStatement } from './format.js';
import { VOLUME_FINDINGS, type VolumeFindingId } from './findings.js';

export interface VerifyVolumeOptions {
  /** The reviewer's trusted roots (the TPM manufacturer's): PEM text or DER each. */
  trustedRoots: TrustedRoots;
  /** The volume's sector tags in LBA order (32 bytes each), as the reviewer holds them. */
  tags?: Uint8Array;
  /** When the AK certificate must be valid; default now. */
  now?: Date;
}

export type VolumeFinding = Finding<VolumeFindingId>;

export interface VolumeSummary {
  /** The signed values (from the statement), when it parsed. */
  volumeId?: string;
  vmId?: string;
  bootId?: string;
  sectorSize?: number;
  sectors?: string;
  issuedAt?: string;
  merkleRoot?: string;
  /** SHA-256 of the AK's SubjectPublicKeyInfo, hex. */
  akFingerprint?: string;
  /** The AK certificate's issuer. */
  akIssuer?: string;
  /** The AK certificate reached a trusted root. */
  certificatePath: boolean;
  signatureValid: boolean;
  /** Tags were given and checked. */
  tagsChecked: boolean;
}

export interface VolumeResult {
  /** No finding of severity error. */
  ok: boolean;
  findings: VolumeFinding[];
  summary: VolumeSummary;
}

const KNOWN = ['format', 'volumeId', 'vmId', 'bootId', 'sectorSize', 'sectors', 'issuedAt', 'merkleRoot', 'statement', 'signature', 'akCertificatePem'];
/** A statement may be signed this long after the reviewer's clock says now before it is reported. */
const CLOCK_SKEW_MS = 300_000;

/** Verify a volume attestation (an object, or its JSON text) offline; bad input never throws. */
export async function verifyVolumeAttestation(attestation: unknown, opts: VerifyVolumeOptions): Promise<VolumeResult> {
  const f = new Findings<VolumeFindingId>(VOLUME_FINDINGS);
  const summary: VolumeSummary = { certificatePath: false, signatureValid: false, tagsChecked: false };
  const now = opts.now ?? new Date();
  const a = parse(attestation, f);
  if (a) {
    const statement = decodeBase64(a.statement);
    if (!statement) f.add('attestation-malformed', 'statement: must be base64 of the signed statement');
    const signature = decodeBase64(a.signature);
    if (!signature) f.add('attestation-malformed', 'signature: must be base64 of a DER ECDSA signature');
    const signer = checkAkSigner(a.akCertificatePem, opts.trustedRoots, now, f);
    summary.certificatePath = signer.trusted;
    if (signer.akFingerprint) summary.akFingerprint = signer.akFingerprint;
    if (signer.issuer) summary.akIssuer = signer.issuer;
    if (statement) {
      summary.signatureValid = checkStatementSignature(statement, signature, signer.key, f);
      const s = decodeVolumeStatement(statement, f);
      if (s) {
        Object.assign(summary, {
          volumeId: s.volumeId,
          vmId: s.vmId,
          bootId: s.bootId,
          sectorSize: s.sectorSize,
          sectors: s.sectors.toString(),
          issuedAt: isoOf(s.issuedAtMs),
          merkleRoot: s.merkleRoot.toString('hex'),
        });
        compareFields(a, s, f);
        if (s.issuedAtMs > BigInt(now.getTime() + CLOCK_SKEW_MS)) {
          f.add('statement-issued-in-future', "the statement says it was issued after the verification time (beyond 5 minutes' clock skew)", { expected: `at most ${now.toISOString()}`, found: isoOf(s.issuedAtMs) });
        }
        if (opts.tags !== undefined) {
          checkTags(Buffer.from(opts.tags.buffer, opts.tags.byteOffset, opts.tags.byteLength), s, f);
          summary.tagsChecked = true;
        }
      }
    }
    if (opts.tags === undefined) f.add('tags-not-checked', 'no tags given: the Merkle root is what the service signed, not checked against the volume (pass the tags to check it)');
  }
  return { ok: f.ok, findings: f.findings, summary };
}


function parse(input: unknown, f: Findings<VolumeFindingId>): Record<string, unknown> | null {
  const value = jsonObjectOf(input, 'attestation', (detail) => f.add('attestation-malformed', detail));
  if (!value) return null;
  if (value.format !== VOLUME_ATTESTATION_FORMAT) {
    f.add('attestation-format-unsupported', `this verifier reads ${VOLUME_ATTESTATION_FORMAT}`, { expected: VOLUME_ATTESTATION_FORMAT, found: JSON.stringify(value.format) ?? 'nothing' });
  }
  for (const key of Object.keys(value)) if (!KNOWN.includes(key)) f.add('attestation-field-unknown', `${key}: not a field of ${VOLUME_ATTESTATION_FORMAT}; ignored`);
  return value;
}

/** Each JSON field against the signed one: one finding per field that differs or is unreadable. */
function compareFields(a: Record<string, unknown>, s: VolumeStatement, f: Findings<VolumeFindingId>): void {
  const text = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : JSON.stringify(v) ?? 'nothing');
  const fields: Array<[string, boolean, string, string]> = [
    ['volumeId', text(a.volumeId) === s.volumeId, s.volumeId, text(a.volumeId)],
    ['vmId', text(a.vmId) === s.vmId, s.vmId, text(a.vmId)],
    ['bootId', text(a.bootId) === s.bootId, s.bootId, text(a.bootId)],
    ['sectorSize', a.sectorSize === s.sectorSize, String(s.sectorSize), text(a.sectorSize)],
    ['sectors', (typeof a.sectors === 'string' || typeof a.sectors === 'number') && /^\d+$/.test(String(a.sectors)) && BigInt(a.sectors) === s.sectors, s.sectors.toString(), text(a.sectors)],
    ['issuedAt', typeof a.issuedAt === 'string' && BigInt(Number.isNaN(Date.parse(a.issuedAt)) ? -1 : Date.parse(a.issuedAt)) === s.issuedAtMs, isoOf(s.issuedAtMs), text(a.issuedAt)],
    ['merkleRoot', text(a.merkleRoot) === s.merkleRoot.toString('hex'), s.merkleRoot.toString('hex'), text(a.merkleRoot)],
  ];
  for (const [field, same, signed, given] of fields) {
    if (!same) f.add('statement-field-mismatch', `${field}: the attestation's value is not the one the signed statement holds`, { expected: signed, found: given });
  }
}

/** The tags the reviewer holds: as many as the signed sectors, and their Merkle root the signed root. */
function checkTags(tags: Buffer, s: VolumeStatement, f: Findings<VolumeFindingId>): void {
  const whole = tags.length % TAG_BYTES === 0;
  if (!whole || BigInt(tags.length / TAG_BYTES) !== s.sectors) {
    f.add('tags-count-mismatch', `the tags given are not one ${TAG_BYTES}-byte tag per signed sector`, {
      expected: `${s.sectors} tags (${s.sectors * BigInt(TAG_BYTES)} bytes)`,
      found: whole ? `${tags.length / TAG_BYTES} tags` : `${tags.length} bytes, not a whole number of tags`,
    });
  }
  const root = merkleRoot(whole ? tags : tags.subarray(0, tags.length - (tags.length % TAG_BYTES)));
  if (!root.equals(s.merkleRoot)) {
    f.add('tags-merkle-root-mismatch', 'the Merkle root of the tags given is not the signed root: a tag was changed, added, removed or moved', {
      expected: s.merkleRoot.toString('hex'),
      found: root.toString('hex'),
    });
  }
}
