// Volume state records: what keeps a provider from rolling a volume back at rest. Each sector's
// tag binds its ciphertext, LBA and generation, so no sector can be altered or moved unseen — but
// an older copy of the whole volume, data and tags together, verifies sector by sector. So the
// adapter — attested code, reading the files the provider holds — records with the service the
// RFC 6962 Merkle root over the volume's tags (in LBA order) when it opens the volume, after its
// journal is replayed, and again when it closes it cleanly; the service keeps it in
// volume_states. At an open, a root that is not the one the volume was last closed with is
// refused (volume-state-differs), and the refusal is audited in the tenant's chain. A volume that
// was not closed cleanly when last served (its adapter killed, its key disabled while it ran)
// cannot be checked — its tags moved on after the record, and only the adapter's journal knows
// how — so that open is audited as such and becomes the new baseline. The tags of a large volume's
// chunks are checked after the open, each against the chunk root it was opened with (the
// adapter's README); a chunk found altered is recorded as 'altered': the record goes back to the
// clean close that open matched, the refusal is kept and audited, and the volume is refused as an
// open would have been. After a legitimate restore from a backup, the tenant's officer forgets
// the record (forgetVolumeState), and the next open is the baseline.

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import type { Continuity, VolumeStateAnswer, VolumeStateMoment } from '@sealkeep/crypto';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import type { BlockSession } from './block-sessions.js';

interface VolumeStateRow {
  status: 'served' | 'closed';
  merkle_root: Uint8Array;
  recorded_at: Date | string;
}

const rootOf = (row: VolumeStateRow) => Buffer.from(row.merkle_root);
const recordedAt = (row: VolumeStateRow) => new Date(row.recorded_at).toISOString();

/** Records the volume's state at `moment` (the root of its tags); at an open, refuses a root that differs from the last clean close's. */
export async function recordVolumeState(db: Knex, s: BlockSession, moment: VolumeStateMoment, root: Buffer, requestId: string): Promise<VolumeStateAnswer> {
  if (root.length !== 32) throw new Problem('validation-failed', `the body is the volume's Merkle root: 32 bytes, not ${root.length}`);
  const actor: AuditActor = { plane: 'data', principal: s.principalLabel, actorChain: s.actorChain, requestId };
  const audit = { tenantId: s.tenantId, action: `volume.state-${moment}`, resource: `volume:${s.volumeId}` };
  const outcome = await inTenant(db, s.tenantId, async (trx): Promise<VolumeStateAnswer | Problem> => {
    const row = (await trx('volume_states').where({ volume_id: s.volumeId }).forUpdate().first()) as VolumeStateRow | undefined;
    if (moment === 'altered') {
      // Back to the close the open matched (its root is the one the open recorded), so the files as they now stand are refused at the next open.
      const reverted = row?.status === 'served' && rootOf(row).equals(root);
      if (row) await trx('volume_states').where({ volume_id: s.volumeId }).update({ ...(reverted ? { status: 'closed' } : {}), refused_at: new Date() });
      await appendAudit(trx, actor, { ...audit, outcome: 'failure', details: { sessionId: s.id, continuity: 'altered', merkleRootHash: root.toString('hex'), reverted } });
      return { continuity: 'altered' as const, merkleRoot: root };
    }
    if (moment === 'opened' && row?.status === 'closed' && !rootOf(row).equals(root)) {
      // The record stays as it is: the same root is refused again until the officer forgets it.
      const closedAt = recordedAt(row);
      const closedRoot = rootOf(row).toString('hex');
      await trx('volume_states').where({ volume_id: s.volumeId }).update({ refused_at: new Date() });
      await appendAudit(trx, actor, { ...audit, outcome: 'failure', details: { sessionId: s.id, continuity: 'differs', merkleRootHash: root.toString('hex'), closedRootHash: closedRoot, closedAt } });
      return new Problem('volume-state-differs', `the volume's tags are not those it was closed with at ${closedAt}: it was rolled back or altered at rest`, { merkleRoot: root.toString('hex'), closedRoot, closedAt });
    }
    const continuity: Continuity = moment === 'closed' ? 'recorded' : !row ? 'first' : row.status === 'closed' ? 'as-closed' : 'after-unclean-end';
    const record = {
      status: moment === 'closed' ? 'closed' : 'served',
      merkle_root: root,
      sectors: s.sectors.toString(),
      session_id: s.id,
      boot_id: s.bootId,
      recorded_at: new Date(),
      ...(moment === 'opened' ? { opened_as: continuity, refused_at: null } : {}),
    };
    if (row) await trx('volume_states').where({ volume_id: s.volumeId }).update(record);
    else await trx('volume_states').insert({ volume_id: s.volumeId, tenant_id: s.tenantId, ...record });
    await appendAudit(trx, actor, { ...audit, outcome: 'success', details: { sessionId: s.id, continuity, merkleRootHash: root.toString('hex') } });
    return { continuity, merkleRoot: root };
  });
  if (outcome instanceof Problem) throw outcome;
  return outcome;
}

/** The officer's word that the volume's next open is its new baseline (after a restore from a backup). */
export function forgetVolumeState(db: Knex, actor: AuditActor, tenantId: string, vmId: string, volumeId: string): Promise<{ volumeId: string; forgotten: boolean }> {
  return inTenant(db, tenantId, async (trx) => {
    const volume = await trx('volumes').where({ tenant_id: tenantId, vm_id: vmId, volume_id: volumeId }).first();
    if (!volume) throw new Problem('not-found', 'no such volume');
    const [row] = (await trx('volume_states').where({ volume_id: volumeId }).delete().returning(['status', 'merkle_root', 'recorded_at'])) as VolumeStateRow[];
    const details: Record<string, string> = row ? { vmId, status: row.status, merkleRootHash: rootOf(row).toString('hex'), recordedAt: recordedAt(row) } : { vmId, status: 'none' };
    await appendAudit(trx, actor, { tenantId, action: 'volume.state-forget', resource: `volume:${volumeId}`, outcome: 'success', details });
    return { volumeId, forgotten: row !== undefined };
  });
}
