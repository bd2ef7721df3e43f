// A key's life: generated in the TPM (or imported, import-jobs.ts), rotated to new versions,
// enabled and disabled, scheduled for destruction after a waiting period (7–30 days) that can be
// cancelled, and destroyed: every TPM blob of the key erased (crypto-shredding). A tenant's
// officer can disable every key at once. Each change is audited in the tenant's chain in the
// transaction that makes it.
//
// TPM work (generating a version) happens before the transaction that records it: a crash in
// between leaves an unreferenced blob in no table, never a half-written key.

import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { asSystem, inTenant } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { release, reserve } from '../quotas/quota.js';
import { KEY_TYPE_SPECS, type KeyType } from './key-types.js';
import type { SealedVersion } from './key-engine.js';
import type { KeysContext } from './keys-context.js';
import { eraseVersions, findKey, findKeyByName, insertKey, insertVersion, listKeys, updateKey, versionsOf, type KeyRow, type Level, type VersionRow } from './store.js';

export interface Cia {
  confidentiality: Level;
  integrity: Level;
  availability: Level;
}
export const DEFAULT_CIA: Cia = { confidentiality: 'moderate', integrity: 'moderate', availability: 'moderate' };
export const MIN_WAITING_DAYS = 7;
export const MAX_WAITING_DAYS = 30;

export interface KeySummary {
  keyId: string;
  name: string;
  type: KeyType;
  state: KeyRow['state'];
  primaryVersion: number;
  cia: Cia;
  description: string;
  operations: readonly string[];
  createdAt: string;
  updatedAt: string;
  destroyAfter: string | null;
  destroyedAt: string | null;
  versions: Array<{ version: number; origin: VersionRow['origin']; createdAt: string; publicKeyPem: string | null }>;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
const pem = (spki: Buffer | null) => (spki ? `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n` : null);

export function summarize(k: KeyRow, versions: readonly VersionRow[]): KeySummary {
  return {
    keyId: k.key_id,
    name: k.name,
    type: k.type,
    state: k.state,
    primaryVersion: k.primary_version,
    cia: { confidentiality: k.confidentiality, integrity: k.integrity, availability: k.availability },
    description: k.description,
    operations: KEY_TYPE_SPECS[k.type].operations,
    createdAt: iso(k.created_at)!,
    updatedAt: iso(k.updated_at)!,
    destroyAfter: iso(k.destroy_after),
    destroyedAt: iso(k.destroyed_at),
    versions: versions.filter((v) => v.key_id === k.key_id).map((v) => ({ version: v.version, origin: v.origin, createdAt: iso(v.created_at)!, publicKeyPem: pem(v.public_key_spki) })),
  };
}

async function summaryOf(trx: Knex.Transaction, k: KeyRow): Promise<KeySummary> {
  return summarize(k, await versionsOf(trx, k.tenant_id, [k.key_id]));
}

export async function requireKey(trx: Knex.Transaction, tenantId: string, keyId: string, opts: { lock?: boolean } = {}): Promise<KeyRow> {
  const k = await findKey(trx, tenantId, keyId, opts);
  if (!k) throw new Problem('not-found', 'no such key');
  return k;
}

export function listKeySummaries(db: Knex, tenantId: string): Promise<KeySummary[]> {
  return inTenant(db, tenantId, async (trx) => {
    const keys = await listKeys(trx, tenantId);
    const versions = keys.length ? await versionsOf(trx, tenantId, keys.map((k) => k.key_id)) : [];
    return keys.map((k) => summarize(k, versions));
  });
}

export const getKey = (db: Knex, tenantId: string, keyId: string) => inTenant(db, tenantId, async (trx) => summaryOf(trx, await requireKey(trx, tenantId, keyId)));

export interface NewKey {
  name: string;
  type: KeyType;
  cia?: Cia | undefined;
  description?: string | undefined;
}

/**
 * Record a new key with its first version (in the caller's transaction, tenant scope): the name
 * must be free and the tenant's key quota must allow one more.
 */
export async function recordNewKey(trx: Knex.Transaction, actor: AuditActor, tenantId: string, keyId: string, key: NewKey, sealed: SealedVersion, origin: VersionRow['origin']): Promise<KeyRow> {
  if (await findKeyByName(trx, tenantId, key.name)) throw new Problem('conflict', `a key named ${key.name} exists`);
  await reserve(trx, tenantId, 'keys', 1);
  const cia = key.cia ?? DEFAULT_CIA;
  await insertKey(trx, { key_id: keyId, tenant_id: tenantId, name: key.name, type: key.type, state: 'enabled', primary_version: 1, ...cia, description: key.description ?? '' });
  await insertVersion(trx, { key_id: keyId, version: 1, tenant_id: tenantId, origin, public_area: sealed.publicArea, private_blob: sealed.privateBlob, public_key_spki: sealed.publicKeySpki });
  await appendAudit(trx, actor, { tenantId, action: origin === 'imported' ? 'key.import' : 'key.generate', resource: `key:${keyId}`, outcome: 'success', details: { name: key.name, type: key.type, version: 1, ...cia } });
  return (await findKey(trx, tenantId, keyId))!;
}

/** Record a new primary version of an existing, enabled key (rotation). */
export async function recordNewVersion(trx: Knex.Transaction, actor: AuditActor, k: KeyRow, version: number, sealed: SealedVersion, origin: VersionRow['origin']): Promise<KeyRow> {
  const locked = await requireKey(trx, k.tenant_id, k.key_id, { lock: true });
  if (locked.state !== 'enabled') throw new Problem('key-not-enabled', `the key is ${locked.state}`);
  if (locked.primary_version !== version - 1) throw new Problem('conflict', 'the key was rotated at the same time; try again');
  await insertVersion(trx, { key_id: k.key_id, version, tenant_id: k.tenant_id, origin, public_area: sealed.publicArea, private_blob: sealed.privateBlob, public_key_spki: sealed.publicKeySpki });
  await appendAudit(trx, actor, { tenantId: k.tenant_id, action: 'key.rotate', resource: `key:${k.key_id}`, outcome: 'success', details: { version, origin } });
  return updateKey(trx, k.tenant_id, k.key_id, { primary_version: version });
}

export async function generateKey(ctx: KeysContext, db: Knex, actor: AuditActor, tenantId: string, key: NewKey): Promise<KeySummary> {
  const keyId = randomUUID();
  const sealed = await ctx.engine.generate(key.type, keyId, 1);
  return inTenant(db, tenantId, async (trx) => summaryOf(trx, await recordNewKey(trx, actor, tenantId, keyId, key, sealed, 'generated')));
}

export async function rotateKey(ctx: KeysContext, db: Knex, actor: AuditActor, tenantId: string, keyId: string): Promise<KeySummary> {
  const k = await inTenant(db, tenantId, (trx) => requireKey(trx, tenantId, keyId));
  if (k.state !== 'enabled') throw new Problem('key-not-enabled', `the key is ${k.state}`);
  const sealed = await ctx.engine.generate(k.type, keyId, k.primary_version + 1);
  return inTenant(db, tenantId, async (trx) => summaryOf(trx, await recordNewVersion(trx, actor, k, k.primary_version + 1, sealed, 'generated')));
}

type Transition = 'enable' | 'disable' | 'schedule-destruction' | 'cancel-destruction';
const ALLOWED_FROM: Record<Transition, readonly KeyRow['state'][]> = {
  enable: ['enabled', 'disabled'],
  disable: ['enabled', 'disabled'],
  'schedule-destruction': ['enabled', 'disabled'],
  'cancel-destruction': ['pending-destruction'],
};

/** Enable, disable, schedule or cancel destruction: one state change, audited. */
export function transition(ctx: KeysContext | undefined, db: Knex, actor: AuditActor, tenantId: string, keyId: string, what: Transition, waitingDays?: number): Promise<KeySummary> {
  return inTenant(db, tenantId, async (trx) => {
    const k = await requireKey(trx, tenantId, keyId, { lock: true });
    if (!ALLOWED_FROM[what].includes(k.state)) throw new Problem('conflict', `a ${k.state} key cannot ${what.replace('-', ' ')}`);
    const changes: Partial<KeyRow> =
      what === 'enable' ? { state: 'enabled' }
      : what === 'disable' ? { state: 'disabled' }
      : what === 'cancel-destruction' ? { state: 'disabled', destroy_after: null }
      : { state: 'pending-destruction', destroy_after: trx.raw(`now() + make_interval(days => ?)`, [waitingDays!]) as unknown as Date };
    const updated = await updateKey(trx, tenantId, keyId, changes);
    const details: Record<string, string | number | null> = what === 'schedule-destruction' ? { waitingDays: waitingDays!, destroyAfter: iso(updated.destroy_after) } : { from: k.state };
    await appendAudit(trx, actor, { tenantId, action: `key.${what}`, resource: `key:${keyId}`, outcome: 'success', details });
    if (what !== 'enable') ctx?.engine.forget(keyId);
    return summaryOf(trx, updated);
  });
}

/** Change a key's classification or description. */
export function updateKeyMetadata(db: Knex, actor: AuditActor, tenantId: string, keyId: string, changes: { cia?: Partial<Cia> | undefined; description?: string | undefined }): Promise<KeySummary> {
  return inTenant(db, tenantId, async (trx) => {
    const k = await requireKey(trx, tenantId, keyId, { lock: true });
    if (k.state === 'destroyed') throw new Problem('key-not-enabled', 'the key is destroyed');
    const updated = await updateKey(trx, tenantId, keyId, { ...(changes.cia ?? {}), ...(changes.description !== undefined ? { description: changes.description } : {}) });
    const details: Record<string, string> = { ...(changes.cia ?? {}) };
    if (changes.description !== undefined) details.description = 'changed';
    await appendAudit(trx, actor, { tenantId, action: 'key.update', resource: `key:${keyId}`, outcome: 'success', details });
    return summaryOf(trx, updated);
  });
}

/** The emergency stop: every enabled key of the tenant disabled in one transaction. */
export function disableAllKeys(ctx: KeysContext | undefined, db: Knex, actor: AuditActor, tenantId: string): Promise<{ disabled: string[] }> {
  return inTenant(db, tenantId, async (trx) => {
    const rows = (await trx('keys').where({ tenant_id: tenantId, state: 'enabled' }).update({ state: 'disabled', updated_at: trx.fn.now() }).returning('key_id')) as Array<{ key_id: string }>;
    const disabled = rows.map((r) => r.key_id);
    await appendAudit(trx, actor, { tenantId, action: 'key.disable-all', resource: `tenant:${tenantId}`, outcome: 'success', details: { keys: disabled.length } });
    for (const id of disabled) ctx?.engine.forget(id);
    return { disabled };
  });
}

const SYSTEM = 'sys:sealkeep';

/**
 * Destroy every key whose waiting period is over: erase its TPM blobs, mark it destroyed, give
 * back its quota, audit it as the service. Returns the keys destroyed.
 */
export async function destroyDueKeys(db: Knex, ctx: KeysContext | undefined, requestId = randomUUID()): Promise<string[]> {
  const due = (await asSystem(db, 'find keys whose destruction is due, across tenants', (trx) =>
    trx('keys').where({ state: 'pending-destruction' }).andWhere('destroy_after', '<=', trx.fn.now()).select('tenant_id', 'key_id'),
  )) as Array<{ tenant_id: string; key_id: string }>;
  const destroyed: string[] = [];
  for (const { tenant_id: tenantId, key_id: keyId } of due) {
    const actor: AuditActor = { plane: 'tenant', principal: SYSTEM, actorChain: [SYSTEM], requestId };
    const done = await inTenant(db, tenantId, async (trx) => {
      const k = await requireKey(trx, tenantId, keyId, { lock: true });
      if (k.state !== 'pending-destruction' || !k.destroy_after || new Date(k.destroy_after) > new Date()) return false;
      await eraseVersions(trx, tenantId, keyId);
      await updateKey(trx, tenantId, keyId, { state: 'destroyed', destroy_after: null, destroyed_at: trx.fn.now() as unknown as Date });
      await release(trx, tenantId, 'keys', 1);
      await appendAudit(trx, actor, { tenantId, action: 'key.destroy', resource: `key:${keyId}`, outcome: 'success', details: { versionsErased: k.primary_version } });
      return true;
    });
    ctx?.engine.forget(keyId);
    if (done) destroyed.push(keyId);
  }
  return destroyed;
}
