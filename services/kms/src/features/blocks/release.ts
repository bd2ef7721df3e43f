// Releasing a volume key into a block session (data plane). The host's adapter asks for one
// volume of a VM started on its host; the key is released only when every condition holds, and
// a refusal names the first that failed (and nothing more):
//   vm-not-started        the VM has no current boot
//   vm-on-another-host    its current boot is on another host than the caller's
//   no-release-policy     the tenant's officer wrote no release policy for the VM
//   key-not-enabled       the policy's key is disabled, pending destruction or destroyed
//   measurements-differ   the boot's vPCRs are not the policy's (or the vTPM will not unseal)
// The host's own attestation is checked before (401 attestation-stale), and the tenant's rate
// quota by admission (429). The first release of a volume makes its key, sealed to the policy's
// vPCRs. Every release and refusal is audited in the tenant's chain.

import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { expectedVpcrs, PcrSealMismatch, type TpmManager } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { principalLabel, type Principal } from '../../http/mount.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import type { KeysContext } from '../keys/keys-context.js';
import { requireKeys } from '../keys/keys-context.js';
import type { KeyRow } from '../keys/store.js';
import { hostOf, meetsReferenceValues } from '../vms/boot.js';
import { withVmTpm } from '../vms/vm-tpms.js';
import type { ReferenceValues } from '../vms/service.js';
import { newDek, openVolumeKey, sealVolumeKey, type VolumeKeyRow, type VolumeKeys } from './volume-keys.js';
import type { BlockSessions } from './block-sessions.js';
import { agreeSessionKey, signSessionOpening } from '@sealkeep/crypto';
import type { TokenKey } from '../../auth/token-key.js';

export type ReleaseCondition = 'vm-not-started' | 'vm-on-another-host' | 'no-release-policy' | 'key-not-enabled' | 'measurements-differ';

export interface BlockDeps {
  keys: KeysContext | undefined;
  vtpms: TpmManager | undefined;
  sessions: BlockSessions | undefined;
  /** The service's signing key: it signs each session's opening (sessionProof), as it signs delegation tokens. */
  signingKey: TokenKey;
}

export interface SessionSummary {
  sessionId: string;
  volumeId: string;
  vmId: string;
  bootId: string;
  sectorSize: 512 | 4096;
  sectors: string;
  integrity: 'low' | 'moderate' | 'high';
  keyVersion: number;
  expiresAt: string;
  /** The service's ephemeral ECDH P-256 point (uncompressed, base64url): with the caller's, the session key. */
  serviceEcdhPublicKey: string;
  /** The opening, signed by the service's signing key (@sealkeep/crypto's block-session.ts). */
  sessionProof: string;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

class Refused {
  constructor(readonly condition: ReleaseCondition) {}
}

export function requireBlockDeps(deps: BlockDeps): Required<{ [K in keyof BlockDeps]: NonNullable<BlockDeps[K]> }> {
  const keys = requireKeys(deps.keys);
  if (!deps.vtpms || !deps.sessions) throw new Problem('keys-unavailable', 'the data plane needs the unsealed service root');
  return { keys, vtpms: deps.vtpms, sessions: deps.sessions, signingKey: deps.signingKey };
}

export async function openSession(db: Knex, given: BlockDeps, principal: Principal, actor: AuditActor, tenantId: string, vmId: string, volumeId: string, peerPoint: Buffer): Promise<SessionSummary> {
  const deps = requireBlockDeps(given);
  if (!principal.delegation) throw new Problem('forbidden', "a volume is opened on behalf of the tenant's principal: present a delegation token (Sealkeep-Delegation)");
  const host = await hostOf(db, principal);
  const outcome = await withVmTpm(deps.vtpms, vmId, () =>
    inTenant(db, tenantId, async (trx) => {
      const vm = await trx('vms').where({ tenant_id: tenantId, vm_id: vmId }).first();
      const volume = vm && (await trx('volumes').where({ tenant_id: tenantId, vm_id: vmId, volume_id: volumeId }).first());
      if (!vm || !volume) throw new Problem('not-found', 'no such VM or volume');
      const boot = vm.current_boot_id ? await trx('vm_boots').where({ boot_id: vm.current_boot_id }).first() : undefined;
      try {
        if (!boot) throw new Refused('vm-not-started');
        if (boot.host_id !== host.host_id) throw new Refused('vm-on-another-host');
        if (!vm.release_key_id) throw new Refused('no-release-policy');
        const kek = (await trx('keys').where({ tenant_id: tenantId, key_id: vm.release_key_id }).first()) as KeyRow;
        if (kek.state !== 'enabled') throw new Refused('key-not-enabled');
        const refs = json<ReferenceValues>(vm.reference_values);
        if (meetsReferenceValues(json<{ sha256: Record<string, string> }>(boot.vpcrs).sha256, refs) !== 'match') throw new Refused('measurements-differ');
        let row = (await trx('volume_keys').where({ tenant_id: tenantId, volume_id: volumeId }).first()) as VolumeKeyRow | undefined;
        if (!row) {
          await sealVolumeKey(trx, deps, volume, kek, expectedVpcrs(refs), newDek(), 'generated');
          row = (await trx('volume_keys').where({ tenant_id: tenantId, volume_id: volumeId }).first()) as VolumeKeyRow;
        }
        const kekOfRow = row.kek_id === kek.key_id ? kek : ((await trx('keys').where({ tenant_id: tenantId, key_id: row.kek_id }).first()) as KeyRow);
        if (kekOfRow.state !== 'enabled') throw new Refused('key-not-enabled');
        let keys: VolumeKeys;
        try {
          keys = await openVolumeKey(trx, deps, row, vmId, kekOfRow);
        } catch (e) {
          if (e instanceof PcrSealMismatch) throw new Refused('measurements-differ');
          throw e;
        }
        return { ok: true as const, vm, volume, boot, keys, kekId: row.kek_id, kekVersion: row.kek_version };
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        await appendAudit(trx, actor, { tenantId, action: 'volume.release', resource: `volume:${volumeId}`, outcome: 'failure', details: { vmId, condition: e.condition } });
        return { ok: false as const, condition: e.condition };
      }
    }),
  );
  if (!outcome.ok) throw new Problem('release-refused', `the volume key is not released: ${outcome.condition}`, { condition: outcome.condition });

  const sessionId = randomBytes(16).toString('base64url');
  let agreed;
  try {
    agreed = agreeSessionKey(peerPoint, sessionId);
  } catch {
    outcome.keys.xtsKey.fill(0);
    outcome.keys.integrityKey.fill(0);
    throw new Problem('validation-failed', 'ecdhPublicKey is not a P-256 point');
  }
  const expiresAt = new Date(host.attested_until).getTime();
  const sectorSize = outcome.volume.sector_size as 512 | 4096;
  // Audited before it exists: a release the trail does not show never serves a sector.
  try {
    await inTenant(db, tenantId, (trx) =>
      appendAudit(trx, actor, { tenantId, action: 'volume.release', resource: `volume:${volumeId}`, outcome: 'success', details: { vmId, sessionId, bootId: outcome.boot.boot_id, keyVersion: outcome.kekVersion, hostId: host.host_id } }),
    );
  } catch (e) {
    outcome.keys.xtsKey.fill(0);
    outcome.keys.integrityKey.fill(0);
    agreed.key.fill(0);
    throw e;
  }
  deps.sessions.pool.open(sessionId, volumeId, sectorSize, outcome.keys.xtsKey, outcome.keys.integrityKey, agreed.key);
  deps.sessions.add({
    id: sessionId,
    tenantId,
    vmId,
    volumeId,
    bootId: outcome.boot.boot_id,
    hostId: host.host_id,
    principalId: principal.id,
    principalName: principal.name,
    principalLabel: principalLabel(principal),
    actorChain: actor.actorChain,
    kekId: outcome.kekId,
    kekVersion: outcome.kekVersion,
    sectorSize,
    sectors: BigInt(outcome.volume.size_bytes) / BigInt(sectorSize),
    integrity: outcome.volume.integrity,
    key: agreed.key,
    expiresAt,
  });
  return {
    sessionId,
    volumeId,
    vmId,
    bootId: outcome.boot.boot_id,
    sectorSize,
    sectors: String(BigInt(outcome.volume.size_bytes) / BigInt(sectorSize)),
    integrity: outcome.volume.integrity,
    keyVersion: outcome.kekVersion,
    expiresAt: new Date(expiresAt).toISOString(),
    serviceEcdhPublicKey: agreed.publicPoint.toString('base64url'),
    sessionProof: signSessionOpening(deps.signingKey, { sid: sessionId, vol: volumeId, vm: vmId, boot: outcome.boot.boot_id, adapter: peerPoint.toString('base64url'), service: agreed.publicPoint.toString('base64url') }),
  };
}
