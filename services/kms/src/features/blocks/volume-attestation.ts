// Volume attestations: the service computes the RFC 6962 Merkle root over a volume's sector
// tags (sent by the adapter, in LBA order) and has its TPM's attestation key — a restricted
// ECDSA P-256 key whose certificate chains to the TPM manufacturer — sign a statement naming the
// volume, the VM boot it was served under, the sector count, the time and the root. Anyone with
// the manufacturer root verifies it offline (`sealkeep verify volume-attestation`); the format
// is in docs/service.md#volume-attestations. Each attestation is audited.
//
//   statement = "SKVA" ‖ 0x01 ‖ volume id (16) ‖ VM id (16) ‖ boot id (16) ‖ sector size u32
//               ‖ sectors u64 ‖ issued at (ms since 1970) u64 ‖ Merkle root (32)      all big-endian

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { merkleRoot, TAG_BYTES, volumeIdFromUuid } from '@sealkeep/crypto';
import { signWithRestrictedKey, TPM_RH, type TpmClient } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { appendAudit } from '../../audit/audit-log.js';
import type { BlockSession } from './block-sessions.js';

export const VOLUME_ATTESTATION_FORMAT = 'sealkeep-volume-attestation/1';
export const STATEMENT_MAGIC = Buffer.from('SKVA');

export interface VolumeAttestationDeps {
  tpm: TpmClient;
  /** The attestation key's handle in the service TPM (an endorsement-hierarchy primary). */
  akHandle: number;
  akCertificatePem: string | null;
}

export interface VolumeAttestation {
  format: typeof VOLUME_ATTESTATION_FORMAT;
  volumeId: string;
  vmId: string;
  bootId: string;
  sectorSize: number;
  sectors: string;
  issuedAt: string;
  merkleRoot: string;
  /** The signed bytes, base64. */
  statement: string;
  /** ECDSA P-256 / SHA-256 over the statement, DER, base64. */
  signature: string;
  akCertificatePem: string | null;
}

export function volumeStatement(a: { volumeId: string; vmId: string; bootId: string; sectorSize: number; sectors: bigint; issuedAtMs: number; root: Buffer }): Buffer {
  const tail = Buffer.alloc(4 + 8 + 8);
  tail.writeUInt32BE(a.sectorSize, 0);
  tail.writeBigUInt64BE(a.sectors, 4);
  tail.writeBigUInt64BE(BigInt(a.issuedAtMs), 12);
  return Buffer.concat([STATEMENT_MAGIC, Buffer.from([1]), volumeIdFromUuid(a.volumeId), volumeIdFromUuid(a.vmId), volumeIdFromUuid(a.bootId), tail, a.root]);
}

export async function attestVolume(db: Knex, deps: VolumeAttestationDeps | undefined, s: BlockSession, tags: Buffer, requestId: string): Promise<VolumeAttestation> {
  if (!deps) throw new Problem('service-unavailable', 'the service TPM has no attestation key');
  if (BigInt(tags.length) !== s.sectors * BigInt(TAG_BYTES)) throw new Problem('validation-failed', `a volume of ${s.sectors} sectors has ${s.sectors * BigInt(TAG_BYTES)} bytes of tags, not ${tags.length}`);
  const root = merkleRoot(tags);
  const issuedAtMs = Date.now();
  const statement = volumeStatement({ volumeId: s.volumeId, vmId: s.vmId, bootId: s.bootId, sectorSize: s.sectorSize, sectors: s.sectors, issuedAtMs, root });
  const signature = await signWithRestrictedKey(deps.tpm, deps.akHandle, TPM_RH.ENDORSEMENT, statement);
  await inTenant(db, s.tenantId, (trx) =>
    appendAudit(trx, { plane: 'data', principal: s.principalLabel, actorChain: s.actorChain, requestId }, { tenantId: s.tenantId, action: 'volume.attest', resource: `volume:${s.volumeId}`, outcome: 'success', details: { sessionId: s.id, sectors: s.sectors.toString(), merkleRootHash: root.toString('hex') } }),
  );
  return {
    format: VOLUME_ATTESTATION_FORMAT,
    volumeId: s.volumeId,
    vmId: s.vmId,
    bootId: s.bootId,
    sectorSize: s.sectorSize,
    sectors: s.sectors.toString(),
    issuedAt: new Date(issuedAtMs).toISOString(),
    merkleRoot: root.toString('hex'),
    statement: statement.toString('base64'),
    signature: signature.der.toString('base64'),
    akCertificatePem: deps.akCertificatePem,
  };
}
