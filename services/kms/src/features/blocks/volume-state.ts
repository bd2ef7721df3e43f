// Volume state records: what keeps a provider from rolling a volume back at rest. Each sector's
// tag binds its ciphertext, LBA and generation, so no sector can be altered or moved unseen — but
// an older copy of the whole volume, data and tags together, verifies sector by sector. So the
// adapter — attested code, reading the files the provider holds — records with the service the
// root over the volume's tag file — every sector's tag and generation word — when it opens the volume, after its
// journal is replayed, at each checkpoint of its journal (the state a round of the journal ends
// with, recorded before that round is retired), and when it closes it cleanly; the service keeps
// it in volume_states. At an open, a root that is not the one the volume was last closed with is
// refused (volume-state-differs), and the refusal is audited in the tenant's chain. A volume that
// was not closed cleanly when last served (its adapter killed, its key disabled while it ran) has
// moved on from the state last recorded by the writes of its journal: the open names the states
// its replay passed through — the start of each round of the journal — and is taken ('resumed')
// only if the record's root is among them, refused otherwise: since a round is retired only after
// the state it ends with is recorded, the journal always holds every write since the record. The
// tags of a large volume's chunks are checked after the open, each against the chunk root it was
// opened with (the adapter's README); a chunk found altered is recorded as 'altered' with the
// root the adapter recorded last: the record is closed at it (no replay can lead to it), the
// refusal is kept and audited, and the volume is refused as an open would have been. After a legitimate restore from a backup, the tenant's
// officer forgets the record (forgetVolumeState), and the next open is the baseline. Checkpoints
// are not audited one by one (a busy volume makes one after each burst of writes): the open after
// an unclean end names, in its audit entry, the recorded root it resumed from. A record an earlier
// version left holds a root over the tags alone (root_kind 'tags'), which no state root can be
// compared with: the next open is taken unchecked as the new baseline ('earlier-root'), audited.

import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { decodeVolumeStateRequest, judgeVolumeState, MAX_PASSED_THROUGH, nextVolumeState, type RecordedVolumeState, type VolumeStateAnswer, type VolumeStateMoment } from '@sealkeep/crypto';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import type { BlockSession } from './block-sessions.js';

interface VolumeStateRow {
  status: 'served' | 'closed';
  merkle_root: Uint8Array;
  /** 'tags': a root an earlier version recorded, over the tags alone (migration 0013), which no state root can be compared with. */
  root_kind: 'tags' | 'state-1';
  recorded_at: Date | string;
}

const rootOf = (row: VolumeStateRow) => Buffer.from(row.merkle_root);
const recordedAt = (row: VolumeStateRow) => new Date(row.recorded_at).toISOString();

/**
 * Records the volume's state at `moment` (the root of its tags); at an open, refuses a root that
 * differs from the last clean close's, or after an unclean end, one whose replay did not pass
 * through the state last recorded (`passedThrough`, the open's own root aside).
 */
export async function recordVolumeState(db: Knex, s: BlockSession, moment: VolumeStateMoment, body: Buffer, requestId: string): Promise<VolumeStateAnswer> {
  const request = decodeVolumeStateRequest(body);
  if (!request) throw new Problem('validation-failed', `the body is the volume's Merkle root (32 bytes), then at an open up to ${MAX_PASSED_THROUGH} roots its journal replay passed through: not ${body.length} bytes`);
  const { merkleRoot: root, passedThrough } = request;
  if (moment !== 'opened' && passedThrough.length > 0) throw new Problem('validation-failed', 'only an open names the states its journal replay passed through: the body is one Merkle root of 32 bytes');
  const actor: AuditActor = { plane: 'data', principal: s.principalLabel, actorChain: s.actorChain, requestId };
  const audit = { tenantId: s.tenantId, action: `volume.state-${moment}`, resource: `volume:${s.volumeId}` };
  const outcome = await inTenant(db, s.tenantId, async (trx): Promise<VolumeStateAnswer | Problem> => {
    const row = (await trx('volume_states').where({ volume_id: s.volumeId }).forUpdate().first()) as VolumeStateRow | undefined;
    const current: RecordedVolumeState | null = row ? { status: row.status, root: rootOf(row), comparable: row.root_kind === 'state-1' } : null;
    const judged = judgeVolumeState(current, moment, root, passedThrough);
    const next = nextVolumeState(current, moment, root, judged);
    if ('refused' in judged && judged.refused === 'conflict') {
      return new Problem('conflict', "the volume's record says it was closed: a checkpoint is recorded only while the volume is open", { recordedAt: recordedAt(row!) });
    }
    if ('refused' in judged) {
      // The record stays as it is: the same root is refused again until the officer forgets it.
      const recordedRoot = rootOf(row!).toString('hex');
      const at = recordedAt(row!);
      const recordedAs = row!.status;
      await trx('volume_states').where({ volume_id: s.volumeId }).update({ refused_at: new Date() });
      const details = { sessionId: s.id, continuity: 'differs', merkleRootHash: root.toString('hex'), recordedAs, recordedRootHash: recordedRoot, recordedAt: at, passedThrough: passedThrough.length };
      await appendAudit(trx, actor, { ...audit, outcome: 'failure', details });
      const detail =
        recordedAs === 'closed'
          ? `the volume's tags are not those it was closed with at ${at}: it was rolled back or altered at rest`
          : `the volume was not closed cleanly, and its tags are not those its state recorded at ${at} leads to through its journal: it was rolled back or altered at rest`;
      return new Problem('volume-state-differs', detail, { merkleRoot: root.toString('hex'), recordedRoot, recordedAt: at, recordedAs, ...(recordedAs === 'closed' ? { closedRoot: recordedRoot, closedAt: at } : {}) });
    }
    const { continuity } = judged;
    if (continuity === 'altered') {
      // Closed at the root the adapter recorded last (at its open, or a checkpoint since), so the files as they now stand are refused at the next open.
      const reverted = current?.status === 'served' && next?.status === 'closed';
      if (row) await trx('volume_states').where({ volume_id: s.volumeId }).update({ ...(reverted ? { status: 'closed' } : {}), refused_at: new Date() });
      await appendAudit(trx, actor, { ...audit, outcome: 'failure', details: { sessionId: s.id, continuity, merkleRootHash: root.toString('hex'), reverted } });
      return { continuity, merkleRoot: root };
    }
    const record = {
      status: next!.status,
      merkle_root: next!.root,
      root_kind: 'state-1',
      sectors: s.sectors.toString(),
      session_id: s.id,
      boot_id: s.bootId,
      recorded_at: new Date(),
      ...(moment === 'opened' ? { opened_as: continuity, refused_at: null } : {}),
    };
    if (row) await trx('volume_states').where({ volume_id: s.volumeId }).update(record);
    else await trx('volume_states').insert({ volume_id: s.volumeId, tenant_id: s.tenantId, ...record });
    // (Checkpoints are audited only when one is the baseline: the record forgotten while the volume was served.)
    if (moment !== 'checkpoint' || continuity === 'first') {
      const details: Record<string, string> = { sessionId: s.id, continuity, merkleRootHash: root.toString('hex') };
      if (continuity === 'resumed') details.resumedFromHash = rootOf(row!).toString('hex');
      if (continuity === 'earlier-root') Object.assign(details, { recordedAs: row!.status, recordedRootHash: rootOf(row!).toString('hex') });
      await appendAudit(trx, actor, { ...audit, outcome: 'success', details });
    }
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
