// 0008: hypervisor hosts (provider rows: no tenant owns a host).
//   hosts            a host registered by its EK certificate, the launch measurements the
//                    cloud-admin approved for it (SINIT and MLE digests), its attestation key once
//                    activated, the last quote it accepted (TPMS_ATTEST: its clock must only move forward)
//                    with the evidence bundle and nonce it came in (served to reviewers), and how long its attestation holds; its
//                    adapter's data-plane identity is a principal of role hypervisor
//   host_challenges  one-use credential-activation challenges (TPM2_MakeCredential against the
//                    EK for the AK's Name), each with the quote nonce it expects
// The provider's scope reads and writes both (sealkeep_app; no row-level policy: no tenant rows).

import type { Knex } from 'knex';
import { APP_ROLE } from './row-level-security.js';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('hosts', (t) => {
    t.uuid('host_id').primary();
    t.text('name').notNullable().unique();
    t.binary('ek_certificate').notNullable();
    t.jsonb('approved_sinit').notNullable().defaultTo('[]');
    t.jsonb('approved_mle').notNullable().defaultTo('[]');
    t.binary('ak_public_area').nullable();
    t.uuid('principal_id').nullable().references('principal_id').inTable('principals');
    t.text('status').notNullable().defaultTo('registered');
    t.text('last_failure').nullable();
    t.binary('last_quote').nullable();
    t.jsonb('last_evidence').nullable();
    t.binary('last_nonce').nullable();
    t.timestamp('attested_at', { useTz: true }).nullable();
    t.timestamp('attested_until', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.check("status in ('registered', 'attested', 'failed')", [], 'hosts_status_check');
  });
  await db.schema.createTable('host_challenges', (t) => {
    t.uuid('challenge_id').primary();
    t.uuid('host_id').notNullable().references('host_id').inTable('hosts');
    t.binary('secret_sha256').notNullable();
    t.binary('nonce').notNullable();
    t.binary('ak_public_area').notNullable();
    t.jsonb('adapter_jwk').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true }).nullable();
  });
  await db.raw(`grant select, insert, update, delete on hosts, host_challenges to ${APP_ROLE}`);
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('host_challenges');
  await db.schema.dropTable('hosts');
}
