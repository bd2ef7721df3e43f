// The volume attestation (format "sealkeep-volume-attestation/1", README.md): the JSON the
// service answers to POST /v1/block-sessions/{id}/attestation, and the statement its TPM's
// attestation key signed (services/kms/src/features/blocks/volume-attestation.ts writes it):
//
//   statement = "SKVA" ‖ 0x01 ‖ volume id (16) ‖ VM id (16) ‖ boot id (16) ‖ sector size u32
//               ‖ sectors u64 ‖ issued at (ms since 1970) u64 ‖ Merkle root (32)     big-endian
//
// 105 bytes. decodeVolumeStatement reports what does not parse as findings.

import { uuidBytes, uuidOf } from '../statement/signer.js';
import type { FindingSink } from '../statement/findings.js';

export const VOLUME_ATTESTATION_FORMAT = 'sealkeep-volume-attestation/1';
export const VOLUME_STATEMENT_MAGIC = 'SKVA';
export const VOLUME_STATEMENT_VERSION = 1;
export const VOLUME_STATEMENT_LENGTH = 4 + 1 + 3 * 16 + 4 + 8 + 8 + 32;

/** The attestation as the service answers it. */
export interface VolumeAttestation {
  format: typeof VOLUME_ATTESTATION_FORMAT;
  volumeId: string;
  vmId: string;
  bootId: string;
  sectorSize: number;
  /** Decimal. */
  sectors: string;
  /** ISO 8601, whole milliseconds. */
  issuedAt: string;
  /** RFC 6962 Merkle root over the volume's sector tags in LBA order, hex. */
  merkleRoot: string;
  /** The signed bytes, base64. */
  statement: string;
  /** ECDSA P-256 / SHA-256 over the statement, DER, base64. */
  signature: string;
  /** The AK certificate, PEM (the manufacturer issued it: it chains to the manufacturer root). */
  akCertificatePem: string | null;
}

/** The statement's fields. */
export interface VolumeStatement {
  volumeId: string;
  vmId: string;
  bootId: string;
  sectorSize: number;
  sectors: bigint;
  issuedAtMs: bigint;
  merkleRoot: Buffer;
}

export function encodeVolumeStatement(s: VolumeStatement): Buffer {
  const ids = [s.volumeId, s.vmId, s.bootId].map((id) => {
    const b = uuidBytes(id);
    if (!b) throw new RangeError(`not a UUID: ${JSON.stringify(id)}`);
    return b;
  });
  if (s.merkleRoot.length !== 32) throw new RangeError('the Merkle root is 32 bytes');
  const tail = Buffer.alloc(4 + 8 + 8);
  tail.writeUInt32BE(s.sectorSize, 0);
  tail.writeBigUInt64BE(s.sectors, 4);
  tail.writeBigUInt64BE(s.issuedAtMs, 12);
  return Buffer.concat([Buffer.from(VOLUME_STATEMENT_MAGIC, 'latin1'), Buffer.of(VOLUME_STATEMENT_VERSION), ...ids, tail, s.merkleRoot]);
}

type StatementFindingId = 'statement-malformed' | 'statement-magic-invalid' | 'statement-version-unsupported';

/** The statement's fields, or null after a finding (wrong length, magic or version). */
export function decodeVolumeStatement(b: Buffer, f: FindingSink<StatementFindingId>): VolumeStatement | null {
  let good = true;
  if (b.length !== VOLUME_STATEMENT_LENGTH) {
    f.add('statement-malformed', `the statement is ${b.length} bytes; a version ${VOLUME_STATEMENT_VERSION} volume statement is ${VOLUME_STATEMENT_LENGTH}`, {
      expected: String(VOLUME_STATEMENT_LENGTH),
      found: String(b.length),
    });
    good = false;
  }
  const magic = b.subarray(0, 4).toString('latin1');
  if (magic !== VOLUME_STATEMENT_MAGIC) {
    f.add('statement-magic-invalid', 'the statement is not a volume statement', { expected: VOLUME_STATEMENT_MAGIC, found: b.subarray(0, 4).toString('hex') });
    good = false;
  }
  if (b.length > 4 && b[4] !== VOLUME_STATEMENT_VERSION) {
    f.add('statement-version-unsupported', `this verifier reads volume statements of version ${VOLUME_STATEMENT_VERSION}`, { expected: String(VOLUME_STATEMENT_VERSION), found: String(b[4]) });
    good = false;
  }
  if (!good) return null;
  return {
    volumeId: uuidOf(b.subarray(5, 21)),
    vmId: uuidOf(b.subarray(21, 37)),
    bootId: uuidOf(b.subarray(37, 53)),
    sectorSize: b.readUInt32BE(53),
    sectors: b.readBigUInt64BE(57),
    issuedAtMs: b.readBigUInt64BE(65),
    merkleRoot: Buffer.from(b.subarray(73, 105)),
  };
}
