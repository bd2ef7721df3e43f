// Volume keys: one DEK per volume — a 512-bit AES-XTS key (halves distinct) and a 256-bit tag
// key — made in the service, wrapped at once by the tenant's release key (RFC 5649 under the AES
// key the VM's release policy names, in its primary version), and that wrapping sealed in the
// VM's vTPM under PolicyPCR to the vPCRs the policy expects. The store keeps only the vTPM's
// blobs; opening one needs the vTPM to hold those vPCRs AND the tenant's key to be enabled, so
// disabling or destroying that key crypto-shreds every volume under it.

import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { generateXtsKey, INTEGRITY_KEY_BYTES, XTS_KEY_BYTES } from '@sealkeep/crypto';
import { PcrSealMismatch, sealToPcrs, unsealWithPcrs, type TpmManager } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import type { KeysContext } from '../keys/keys-context.js';
import { findVersion, type KeyRow } from '../keys/store.js';
import { unwrapKwp, wrapKwp } from '../keys/envelope.js';
import { currentTpm } from '../vms/vm-tpms.js';

export interface VolumeKeyRow {
  volume_id: string;
  tenant_id: string;
  kek_id: string;
  kek_version: number;
  sealed_public: Buffer;
  sealed_private: Buffer;
  sealed_vpcrs: Record<string, string> | string;
  origin: 'generated' | 'imported';
}

export interface VolumeKeys {
  xtsKey: Buffer;
  integrityKey: Buffer;
}

const hexMap = (m: Map<number, Buffer>) => Object.fromEntries([...m].map(([i, v]) => [String(i), v.toString('hex')]));
const indicesOf = (row: VolumeKeyRow) => Object.keys(typeof row.sealed_vpcrs === 'string' ? JSON.parse(row.sealed_vpcrs) : row.sealed_vpcrs).map(Number).sort((a, b) => a - b);

async function kekSecret(keys: KeysContext, trx: Knex.Transaction, kek: KeyRow, version: number): Promise<Buffer> {
  const v = await findVersion(trx, kek.tenant_id, kek.key_id, version);
  if (!v?.public_area || !v.private_blob) throw new Problem('key-not-enabled', `the release key has no version ${version}`);
  return keys.engine.secret({ keyId: kek.key_id, version, type: kek.type, publicArea: v.public_area, privateBlob: v.private_blob });
}

/** Seal DEK bytes (xts ‖ integrity) for a volume: wrap under the KEK, seal to `expected` in the VM's vTPM, store the blobs. */
export async function sealVolumeKey(
  trx: Knex.Transaction,
  deps: { keys: KeysContext; vtpms: TpmManager },
  volume: { volume_id: string; tenant_id: string; vm_id: string },
  kek: KeyRow,
  expected: Map<number, Buffer>,
  dek: Buffer,
  origin: VolumeKeyRow['origin'],
  /** Replace the volume's sealed key (a re-seal of the same DEK); otherwise a volume that has one is a conflict. */
  replace = false,
): Promise<void> {
  const secret = await kekSecret(deps.keys, trx, kek, kek.primary_version);
  const wrapped = wrapKwp(secret, kek.primary_version, dek);
  dek.fill(0);
  const tpm = await currentTpm(deps.vtpms, volume.vm_id);
  const blob = await sealToPcrs(tpm.client(), wrapped, expected);
  await tpm.flush();
  const row = { kek_id: kek.key_id, kek_version: kek.primary_version, sealed_public: blob.public, sealed_private: blob.private, sealed_vpcrs: JSON.stringify(hexMap(expected)), origin };
  if (replace) {
    await trx('volume_keys').where({ tenant_id: volume.tenant_id, volume_id: volume.volume_id }).update({ ...row, sealed_at: trx.fn.now() });
    return;
  }
  // A volume keeps its first key: two first releases racing must not replace the one data was written under.
  const inserted = await trx('volume_keys').insert({ volume_id: volume.volume_id, tenant_id: volume.tenant_id, ...row }).onConflict('volume_id').ignore().returning('volume_id');
  if (inserted.length === 0) throw new Problem('conflict', 'the volume got its key from another request meanwhile: try again');
}

/** A new DEK: XTS halves distinct (generateXtsKey), integrity key independent. */
export function newDek(): Buffer {
  return Buffer.concat([generateXtsKey(), randomBytes(INTEGRITY_KEY_BYTES)]);
}

/**
 * Open a volume's DEK: the vTPM unseals the wrapping only while its vPCRs are those it was sealed
 * to (PcrSealMismatch otherwise), then the tenant's key unwraps it.
 */
export async function openVolumeKey(trx: Knex.Transaction, deps: { keys: KeysContext; vtpms: TpmManager }, row: VolumeKeyRow, vmId: string, kek: KeyRow): Promise<VolumeKeys> {
  const tpm = await currentTpm(deps.vtpms, vmId);
  const wrapped = await unsealWithPcrs(tpm.client(), { public: row.sealed_public, private: row.sealed_private }, indicesOf(row));
  const dek = unwrapKwp(await kekSecret(deps.keys, trx, kek, row.kek_version), wrapped);
  try {
    if (dek.length !== XTS_KEY_BYTES + INTEGRITY_KEY_BYTES) throw new Problem('internal', 'a volume key of the wrong size');
    return { xtsKey: Buffer.from(dek.subarray(0, XTS_KEY_BYTES)), integrityKey: Buffer.from(dek.subarray(XTS_KEY_BYTES)) };
  } finally {
    dek.fill(0);
  }
}

/**
 * Re-seal a VM's volume keys to new expected vPCRs (and wrap them under `kek`), when its officer
 * changes the release policy. Each key is opened first, so this works only while the VM's vTPM
 * holds the vPCRs the keys were sealed to — the VM runs in its approved state — as re-sealing a
 * disk key to a new boot chain works anywhere. The caller holds the VM's vTPM (withVmTpm).
 */
export async function resealVolumeKeys(trx: Knex.Transaction, deps: { keys: KeysContext; vtpms: TpmManager }, tenantId: string, vmId: string, kek: KeyRow, expected: Map<number, Buffer>): Promise<number> {
  const rows = (await trx('volume_keys')
    .join('volumes', 'volumes.volume_id', 'volume_keys.volume_id')
    .where({ 'volume_keys.tenant_id': tenantId, 'volumes.vm_id': vmId })
    .select('volume_keys.*', 'volumes.vm_id')) as Array<VolumeKeyRow & { vm_id: string }>;
  for (const row of rows) {
    const oldKek = (await trx('keys').where({ tenant_id: tenantId, key_id: row.kek_id }).first()) as KeyRow;
    if (oldKek.state !== 'enabled') throw new Problem('key-not-enabled', "the key the VM's volume keys are wrapped under is not enabled: they cannot be re-sealed");
    let keys: VolumeKeys;
    try {
      keys = await openVolumeKey(trx, deps, row, vmId, oldKek);
    } catch (e) {
      if (e instanceof PcrSealMismatch) throw new Problem('conflict', "the VM's volume keys are sealed to the measurements it was approved with: start the VM in that state, then change its policy");
      throw e;
    }
    await sealVolumeKey(trx, deps, { volume_id: row.volume_id, tenant_id: tenantId, vm_id: vmId }, kek, expected, Buffer.concat([keys.xtsKey, keys.integrityKey]), row.origin, true);
    keys.xtsKey.fill(0);
    keys.integrityKey.fill(0);
  }
  return rows.length;
}
