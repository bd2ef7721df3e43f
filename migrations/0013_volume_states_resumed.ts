// 0013: an open after an unclean end is checked now. The adapter records the state of the tags
// at each checkpoint of its journal, before the round is retired, and the open names the states
// its replay passed through: it is taken only when the recorded state is among them. Such an
// open is 'resumed' in opened_as; 'after-unclean-end' (not checked) stays for the records that
// earlier versions left. A record an earlier adapter left 'served' (killed, never closed since)
// has no checkpoints and its journal no entries before its records: the next open after this
// migration is refused until the officer forgets the record.

import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw('alter table volume_states drop constraint volume_states_opened_as_check');
  await db.raw("alter table volume_states add constraint volume_states_opened_as_check check (opened_as in ('first', 'as-closed', 'after-unclean-end', 'resumed'))");
}

export async function down(db: Knex): Promise<void> {
  // Rows that say 'resumed' stay as they are (row-level security keeps the migration from seeing
  // tenants' rows): the earlier constraint holds for new rows only.
  await db.raw('alter table volume_states drop constraint volume_states_opened_as_check');
  await db.raw("alter table volume_states add constraint volume_states_opened_as_check check (opened_as in ('first', 'as-closed', 'after-unclean-end')) not valid");
}
