// A tenant's own volume key (BYOK for volumes): the officer runs an import job whose key type is
// `volume-key` and whose key name is `volume-<volume id>`, wraps the 96-byte DEK (XTS key ‖ tag
// key) to the job's TPM-resident wrapping key exactly as for any key (docs/byok.md), and posts it
// to the volume. The service opens both wrapping layers, checks the DEK's shape, wraps it under
// the VM's release key and seals it in the VM's vTPM to the policy's vPCRs — the same form as a
// generated volume key. The VM needs its release policy first; a volume keeps its first key.

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { expectedVpcrs, type TpmManager } from '@sealkeep/tpm';
import { INTEGRITY_KEY_BYTES, XTS_KEY_BYTES } from '@sealkeep/crypto';
import { unmarshal, wire } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import type { KeysContext } from '../keys/keys-context.js';
import { openJob, unwrap, type WrappedImport } from '../keys/import-jobs.js';
import { spendImportJob, VOLUME_KEY_TYPE, type KeyRow } from '../keys/store.js';
import { currentTpm, freshBootTpm, vtpmIdOf, withVmTpm } from '../vms/vm-tpms.js';
import type { ReferenceValues } from '../vms/service.js';
import { sealVolumeKey } from './volume-keys.js';

const DEK_BYTES = XTS_KEY_BYTES + INTEGRITY_KEY_BYTES;

/** A DEK the engine would have made: 96 bytes, the XTS key's halves distinct. */
function checkDek(dek: Buffer): void {
  if (dek.length !== DEK_BYTES) throw new Error('length');
  if (dek.subarray(0, 32).equals(dek.subarray(32, 64))) throw new Error('xts halves');
}

type Import = Pick<WrappedImport, 'importToken' | 'wrappingAlgorithm' | 'wrappedKey'>;
type Deps = { keys: KeysContext; vtpms: TpmManager };
type Imported = { volumeId: string; origin: 'imported'; keyId: string; keyVersion: number };

export async function importVolumeKey(deps: Deps, db: Knex, actor: AuditActor, tenantId: string, vmId: string, volumeId: string, req: Import): Promise<Imported> {
  try {
    return await sealImported(deps, db, actor, tenantId, vmId, volumeId, req);
  } catch (e) {
    // A failed attempt is audited too (its transaction rolled back), as for any import.
    if (e instanceof Problem && e.slug === 'import-failed') {
      await inTenant(db, tenantId, (trx) => appendAudit(trx, actor, { tenantId, action: 'volume.key-import', resource: `volume:${volumeId}`, outcome: 'failure', details: { vmId } }));
    }
    throw e;
  }
}

function sealImported(deps: Deps, db: Knex, actor: AuditActor, tenantId: string, vmId: string, volumeId: string, req: Import): Promise<Imported> {
  return withVmTpm(deps.vtpms, vmId, () =>
    inTenant(db, tenantId, async (trx) => {
      const job = await openJob(trx, tenantId, req.importToken);
      if (job.key_type !== VOLUME_KEY_TYPE || job.key_name !== `volume-${volumeId}`) throw new Problem('import-token-invalid');
      const vm = await trx('vms').where({ tenant_id: tenantId, vm_id: vmId }).forUpdate().first();
      const volume = vm && (await trx('volumes').where({ tenant_id: tenantId, vm_id: vmId, volume_id: volumeId }).first());
      if (!volume) throw new Problem('not-found', 'no such VM or volume');
      if (!vm.release_key_id) throw new Problem('conflict', 'the VM has no release policy: its key would have nothing to be wrapped and sealed under');
      if (await trx('volume_keys').where({ tenant_id: tenantId, volume_id: volumeId }).first()) throw new Problem('conflict', 'the volume has a key already');
      const kek = (await trx('keys').where({ tenant_id: tenantId, key_id: vm.release_key_id }).first()) as KeyRow;
      if (kek.state !== 'enabled') throw new Problem('key-not-enabled', "the VM's release key is not enabled");
      const refs = (typeof vm.release_key_id === 'string' && typeof vm.reference_values === 'string' ? JSON.parse(vm.reference_values) : vm.reference_values) as ReferenceValues;
      // The vTPM the key is sealed in exists from the VM's first start; an import may come first.
      if (!deps.vtpms.has(vtpmIdOf(vmId))) await freshBootTpm(deps.vtpms, vmId);
      else await currentTpm(deps.vtpms, vmId);

      let dek: Buffer | undefined;
      try {
        dek = await unwrap(deps.keys, job, { publicArea: unmarshal(wire.TPMT_PUBLIC, job.wrapping_public_area), privateBlob: job.wrapping_private_blob }, req.wrappingAlgorithm, Buffer.from(req.wrappedKey, 'base64'));
        checkDek(dek);
      } catch {
        dek?.fill(0);
        throw new Problem('import-failed');
      }
      await sealVolumeKey(trx, deps, { volume_id: volumeId, tenant_id: tenantId, vm_id: vmId }, kek, expectedVpcrs(refs), dek, 'imported');
      await spendImportJob(trx, tenantId, job.job_id, kek.key_id);
      await appendAudit(trx, actor, { tenantId, action: 'volume.key-import', resource: `volume:${volumeId}`, outcome: 'success', details: { vmId, importJobId: job.job_id, keyId: kek.key_id, keyVersion: kek.primary_version } });
      return { volumeId, origin: 'imported' as const, keyId: kek.key_id, keyVersion: kek.primary_version };
    }),
  );
}
