// Volume attestations: the service computes the RFC 6962 Merkle root over a volume's sector
// tags (sent by the adapter, in LBA order) and has its TPM's attestation key — a restricted
// ECDSA P-256 key whose certificate chains to the TPM manufacturer — sign a statement naming the
// volume, the VM boot it was served under, the sector count, the time and the root. Anyone with
// the manufacturer root verifies it offline (`sealkeep verify volume-attestation`); the format
// and the statement's layout are in packages/attestation/src/volume/ (format.ts writes and reads
// it). Each attestation is audited. The root is computed on a block worker (block-pool.ts): a
// volume's tags take seconds to hash, which the event loop must not spend.

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { TAG_BYTES } from '@sealkeep/crypto';
import { encodeVolumeStatement, VOLUME_ATTESTATION_FORMAT, type VolumeAttestation } from '@sealkeep/attestation';
import { signWithRestrictedKey, TPM_RH, type TpmClient } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { appendAudit } from '../../audit/audit-log.js';
import type { BlockSession } from './block-sessions.js';
import type { BlockPool } from './block-pool.js';

export interface VolumeAttestationDeps {
  tpm: TpmClient;
  /** The attestation key's handle in the service TPM (an endorsement-hierarchy primary). */
  akHandle: number;
  akCertificatePem: string | null;
}

export async function attestVolume(db: Knex, deps: VolumeAttestationDeps | undefined, pool: BlockPool, s: BlockSession, tags: Buffer, requestId: string): Promise<VolumeAttestation> {
  if (!deps) throw new Problem('service-unavailable', 'the service TPM has no attestation key');
  if (BigInt(tags.length) !== s.sectors * BigInt(TAG_BYTES)) throw new Problem('validation-failed', `a volume of ${s.sectors} sectors has ${s.sectors * BigInt(TAG_BYTES)} bytes of tags, not ${tags.length}`);
  const root = await pool.merkleRoot(tags);
  const issuedAtMs = Date.now();
  const statement = encodeVolumeStatement({ volumeId: s.volumeId, vmId: s.vmId, bootId: s.bootId, sectorSize: s.sectorSize, sectors: s.sectors, issuedAtMs: BigInt(issuedAtMs), merkleRoot: root });
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
