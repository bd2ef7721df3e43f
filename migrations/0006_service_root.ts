// 0006: the service's measured start and its signed audit checkpoints.
//   service_root            the sealed root (one row): TPM public area and private blob, the
//                           approver's public key and the first start's measurements
//   service_configurations  every configuration the service has started (or refused to start)
//                           with: code manifest, configuration document, and the approval
//   audit_checkpoints       AK-signed checkpoints of each audit chain (canonical JSON lines)
// The first two are the provider's and hold no tenant rows; checkpoints follow their chain's tenant.

import type { Knex } from 'knex';
import { APP_ROLE, protectTenantTable, unprotectTenantTable } from './row-level-security.js';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('service_root', (t) => {
    t.smallint('id').primary().checkIn(['1'], 'service_root_single_row');
    t.binary('public_area').notNullable();
    t.binary('private_blob').notNullable();
    t.jsonb('approver_jwk').notNullable();
    t.uuid('approver_principal_id').notNullable().references('principal_id').inTable('principals');
    t.text('first_code_digest').notNullable();
    t.text('first_configuration_digest').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.schema.createTable('service_configurations', (t) => {
    t.text('code_digest').notNullable();
    t.text('configuration_digest').notNullable();
    t.text('code_manifest').notNullable();
    t.text('configuration').notNullable();
    t.timestamp('first_seen_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('last_started_at', { useTz: true }).nullable();
    // 'first-start' (the configuration the root was created under) or 'signed' (an approver's ES256 signature)
    t.text('approval').nullable();
    t.binary('approval_signature').nullable();
    t.uuid('approved_by').nullable().references('principal_id').inTable('principals');
    t.timestamp('approved_at', { useTz: true }).nullable();
    // Whether the approval is in the provider's audit chain yet (written when the service first starts under it).
    t.boolean('approval_audited').notNullable().defaultTo(false);
    t.primary(['code_digest', 'configuration_digest']);
    t.check("approval in ('first-start', 'signed')", [], 'service_configurations_approval_check');
  });
  await db.raw(`grant select, insert, update on service_root, service_configurations to ${APP_ROLE}`);

  await db.schema.createTable('audit_checkpoints', (t) => {
    t.text('chain_id').notNullable().references('chain_id').inTable('audit_chains');
    t.bigInteger('seq').notNullable();
    t.uuid('tenant_id').nullable();
    t.text('line').notNullable();
    t.timestamp('written_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['chain_id', 'seq']);
  });
  await protectTenantTable(db, 'audit_checkpoints', { providerRows: true });
  await db.schema.alterTable('audit_chains', (t) => {
    t.bigInteger('checkpoint_seq').notNullable().defaultTo(0);
    t.timestamp('checkpoint_at', { useTz: true }).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('audit_chains', (t) => {
    t.dropColumn('checkpoint_at');
    t.dropColumn('checkpoint_seq');
  });
  await unprotectTenantTable(db, 'audit_checkpoints');
  await db.schema.dropTable('audit_checkpoints');
  await db.raw(`revoke all on service_root, service_configurations from ${APP_ROLE}`);
  await db.schema.dropTable('service_configurations');
  await db.schema.dropTable('service_root');
}
