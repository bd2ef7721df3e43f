// The keys scope, across every tenant (a system read, its reason stated): each key's C.I.A.
// classification is whole and valid; its primary version exists, still holds its TPM blob and is
// younger than the rotation threshold (overdue is high for a key classified high for
// confidentiality or integrity); disabled, pending-destruction and destroyed keys are reported,
// and a destroyed key must hold no blob any more. Whether a blob is present is asked of the
// database (`private_blob is null`); no blob, public key or wrapped material is ever read.

import type { Knex } from 'knex';
import { asSystem } from '@sealkeep/store';
import { describeAge, type FindingCollector } from './findings.js';
import { PAGE_SIZE, type ScanContext, type ScopeCheck } from './scope-check.js';

const WHY = 'compliance scan: key classification, rotation age and state of every tenant (no key material)';
const LEVELS = new Set(['low', 'moderate', 'high']);

interface KeyFacts {
  key_id: string;
  tenant_id: string;
  type: string;
  state: 'enabled' | 'disabled' | 'pending-destruction' | 'destroyed';
  primary_version: number;
  confidentiality: string | null;
  integrity: string | null;
  availability: string | null;
  destroy_after: Date | null;
  primary_missing: boolean;
  primary_erased: boolean;
  primary_age: number | null;
  holds_blob: boolean;
}

function keyPage(db: Knex, after: [string, string] | null): Promise<KeyFacts[]> {
  return asSystem(db, WHY, (trx) => {
    const q = trx('keys as k')
      .leftJoin('key_versions as pv', (j) => j.on('pv.key_id', 'k.key_id').andOn('pv.version', 'k.primary_version'))
      .select(
        'k.key_id', 'k.tenant_id', 'k.type', 'k.state', 'k.primary_version', 'k.confidentiality', 'k.integrity', 'k.availability', 'k.destroy_after',
        trx.raw('(pv.key_id is null) as primary_missing'),
        trx.raw('(pv.private_blob is null) as primary_erased'),
        trx.raw('extract(epoch from now() - pv.created_at)::float8 as primary_age'),
        trx.raw('exists (select 1 from key_versions kv where kv.key_id = k.key_id and kv.private_blob is not null) as holds_blob'),
      )
      .orderBy([{ column: 'k.tenant_id' }, { column: 'k.key_id' }])
      .limit(PAGE_SIZE);
    if (after) q.whereRaw('(k.tenant_id, k.key_id) > (?::uuid, ?::uuid)', after);
    return q as Promise<KeyFacts[]>;
  });
}

function checkKey(k: KeyFacts, ctx: ScanContext, out: FindingCollector): void {
  const subject = `tenant:${k.tenant_id}/key:${k.key_id}`;
  const cia = { confidentiality: k.confidentiality, integrity: k.integrity, availability: k.availability };
  const invalid = Object.entries(cia).filter(([, level]) => !level || !LEVELS.has(level));
  const shown = `C/I/A ${k.confidentiality ?? '-'}/${k.integrity ?? '-'}/${k.availability ?? '-'}`;
  if (invalid.length > 0) {
    out.add('keys.classification.invalid', subject, `the ${k.type} key's C.I.A. classification is incomplete or invalid (${invalid.map(([what]) => what).join(', ')})`, { expected: 'low, moderate or high for each', found: shown });
  }
  const highValue = k.confidentiality === 'high' || k.integrity === 'high';
  if (invalid.length === 0 && (highValue || k.availability === 'high')) out.add('keys.classification.high', subject, `a ${k.type} key classified ${shown} (${k.state})`);

  if (k.state === 'destroyed') {
    out.add('keys.state.destroyed', subject, `the ${k.type} key is destroyed`);
    if (k.holds_blob) out.add('keys.destroyed.blob-remains', subject, 'the key is marked destroyed but a version still holds its TPM private blob: crypto-shredding is incomplete', { expected: 'no blob', found: 'a blob remains' });
    return;
  }
  if (k.state === 'disabled') out.add('keys.state.disabled', subject, `the ${k.type} key is disabled`);
  if (k.state === 'pending-destruction') {
    out.add('keys.state.pending-destruction', subject, `the ${k.type} key is scheduled for destruction`, { found: k.destroy_after ? `destroyed after ${new Date(k.destroy_after).toISOString()}` : 'no date' });
  }
  if (k.primary_missing || k.primary_erased) {
    out.add('keys.primary-version.missing', subject, `the key's primary version ${k.primary_version} ${k.primary_missing ? 'does not exist' : 'holds no TPM blob'} although the key is ${k.state}`, { expected: 'a TPM private blob', found: k.primary_missing ? 'no version row' : 'erased' });
  }
  const maxSeconds = ctx.keyRotationDays * 86400;
  if (k.primary_age !== null && k.primary_age > maxSeconds) {
    out.add(highValue ? 'keys.rotation.overdue-high-value' : 'keys.rotation.overdue', subject, `the ${k.type} key's primary version ${k.primary_version} is ${describeAge(k.primary_age)} old (${shown})`, {
      expected: `rotated at least every ${ctx.keyRotationDays} days`,
      found: `${Math.floor(k.primary_age / 86400)} days`,
    });
  }
}

export const keysCheck: ScopeCheck = {
  scope: 'keys',

  async count(db) {
    const [row] = await asSystem(db, WHY, (trx) => trx('keys').count<{ n: string | number }[]>({ n: '*' }));
    return Number(row?.n ?? 0);
  },

  async run(db, ctx, out, progress) {
    let keys = 0;
    let after: [string, string] | null = null;
    for (;;) {
      const page = await keyPage(db, after);
      if (page.length === 0) break;
      for (const k of page) {
        checkKey(k, ctx, out);
        keys++;
        await progress.advance();
      }
      const last = page[page.length - 1]!;
      after = [last.tenant_id, last.key_id];
    }
    return { keys };
  },
};
