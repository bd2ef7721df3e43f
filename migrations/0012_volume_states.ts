// 0012: what each volume's tags were when it was last opened or closed cleanly.
//   volume_states   one row per volume that an adapter has opened through the data plane: the
//                   RFC 6962 Merkle root over its tags (in LBA order) as the adapter last showed
//                   them, and whether that was at a clean close ('closed': the next open must
//                   show the same root, or the volume was rolled back or altered at rest) or at
//                   an open ('served': it has not been closed cleanly since). The session and the
//                   VM boot that recorded it, and when; what the last open found (opened_as:
//                   first, as-closed, or after-unclean-end — not checked), and when an open was
//                   last refused (refused_at, until an open succeeds or the record is forgotten),
//                   for reviewers' scans. A root is not secret: tags are HMACs.
// Tenant rows only, behind row-level security. Removing the volume removes its row.

import type { Knex } from 'knex';
import { protectTenantTable, unprotectTenantTable } from './row-level-security.js';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('volume_states', (t) => {
    t.uuid('volume_id').primary().references('volume_id').inTable('volumes').onDelete('CASCADE');
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.text('status').notNullable();
    t.binary('merkle_root').notNullable();
    t.bigInteger('sectors').notNullable();
    t.text('session_id').notNullable();
    t.uuid('boot_id').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.text('opened_as').nullable();
    t.timestamp('refused_at', { useTz: true }).nullable();
    t.check("status in ('served', 'closed')", [], 'volume_states_status_check');
    t.check("opened_as in ('first', 'as-closed', 'after-unclean-end')", [], 'volume_states_opened_as_check');
    t.check('octet_length(merkle_root) = 32', [], 'volume_states_root_check');
  });
  await protectTenantTable(db, 'volume_states', { providerRows: false });
}

export async function down(db: Knex): Promise<void> {
  await unprotectTenantTable(db, 'volume_states');
  await db.schema.dropTable('volume_states');
}
