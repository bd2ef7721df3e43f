// Test support: volume attestations as the service makes them (services/kms blocks/
// volume-attestation.ts), signed by the statement signer's TPM AK, over random sector tags.

import { randomBytes, randomUUID } from 'node:crypto';
import { merkleRoot, TAG_BYTES } from '@sealkeep/crypto';
import type { StatementSigner } from '../statement/signer.fixture.js';
import { encodeVolumeStatement, VOLUME_ATTESTATION_FORMAT, type VolumeAttestation, type VolumeStatement } from './format.js';

export interface MadeAttestation {
  attestation: VolumeAttestation;
  tags: Buffer;
  statement: VolumeStatement;
}

/** An attestation of `sectors` random tags; `bend` changes the statement before it is signed. */
export async function volumeAttestation(signer: StatementSigner, opts: { sectors?: number; issuedAtMs?: number; bend?: (s: Buffer) => Buffer } = {}): Promise<MadeAttestation> {
  const sectors = opts.sectors ?? 64;
  const tags = randomBytes(sectors * TAG_BYTES);
  const statement: VolumeStatement = {
    volumeId: randomUUID(),
    vmId: randomUUID(),
    bootId: randomUUID(),
    sectorSize: 4096,
    sectors: BigInt(sectors),
    issuedAtMs: BigInt(opts.issuedAtMs ?? Date.now()),
    merkleRoot: merkleRoot(tags),
  };
  const bytes = (opts.bend ?? ((s) => s))(encodeVolumeStatement(statement));
  const attestation: VolumeAttestation = {
    format: VOLUME_ATTESTATION_FORMAT,
    volumeId: statement.volumeId,
    vmId: statement.vmId,
    bootId: statement.bootId,
    sectorSize: statement.sectorSize,
    sectors: statement.sectors.toString(),
    issuedAt: new Date(Number(statement.issuedAtMs)).toISOString(),
    merkleRoot: statement.merkleRoot.toString('hex'),
    statement: bytes.toString('base64'),
    signature: (await signer.sign(bytes)).toString('base64'),
    akCertificatePem: signer.akCertificatePem,
  };
  return { attestation, tags, statement };
}
