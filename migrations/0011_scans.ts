// 0011: compliance scans (provider rows: a scan belongs to the provider's reviewers, no tenant).
//   scans   one row per scan a reviewer started: the scopes it covers, its state (queued,
//           running, done, failed), its progress (percent, the current step, items done of
//           total), who asked and in which request, and when it was requested, started and
//           finished. The node running it stamps runner_id and renews heartbeat_at; a scan whose
//           heartbeat has lapsed was interrupted and is marked failed. When done, the report
//           (findings: ids, subjects and messages — never key material) is kept beside it.
// The provider's scope reads and writes it (sealkeep_app; no row-level policy: no tenant rows).

import type { Knex } from 'knex';
import { APP_ROLE } from './row-level-security.js';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('scans', (t) => {
    t.uuid('scan_id').primary();
    t.text('status').notNullable().defaultTo('queued');
    t.jsonb('scopes').notNullable();
    t.smallint('percent').notNullable().defaultTo(0);
    t.text('step').notNullable().defaultTo('queued');
    t.integer('items_done').notNullable().defaultTo(0);
    t.integer('items_total').notNullable().defaultTo(0);
    t.text('requested_by').notNullable();
    t.text('request_id').notNullable();
    t.text('runner_id').notNullable();
    t.timestamp('heartbeat_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('requested_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('started_at', { useTz: true }).nullable();
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.text('failure').nullable();
    t.json('report').nullable(); // json, not jsonb: kept exactly as written, its order included
    t.index(['requested_at']);
    t.check("status in ('queued', 'running', 'done', 'failed')", [], 'scans_status_check');
    t.check('percent between 0 and 100', [], 'scans_percent_check');
    t.check("(status = 'done') = (report is not null)", [], 'scans_report_check');
  });
  await db.raw(`grant select, insert, update, delete on scans to ${APP_ROLE}`);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`revoke all on scans from ${APP_ROLE}`);
  await db.schema.dropTable('scans');
}
