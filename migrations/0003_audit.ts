// 0003: the audit trail — one hash chain per tenant and one for the provider. An entry is
// stored as its canonical line (exported verbatim, so a reviewer hashes exactly what was
// written); the chain's head row is locked by every append, so concurrent writers never fork it.

import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('audit_chains', (t) => {
    t.text('chain_id').primary(); // a tenant id, or 'provider'
    t.uuid('tenant_id').nullable();
    t.bigInteger('seq').notNullable().defaultTo(0);
    t.text('head_hash').notNullable();
  });
  await db.schema.createTable('audit_entries', (t) => {
    t.text('chain_id').notNullable().references('chain_id').inTable('audit_chains');
    t.bigInteger('seq').notNullable();
    t.uuid('tenant_id').nullable();
    t.text('line').notNullable();
    t.timestamp('written_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['chain_id', 'seq']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('audit_entries');
  await db.schema.dropTable('audit_chains');
}
