// 0013: an open after an unclean end is checked now. The adapter records the state of the tags
// at each checkpoint of its journal, before the round is retired, and the open names the states
// its replay passed through: it is taken only when the recorded state is among them. Such an
// open is 'resumed' in opened_as; 'after-unclean-end' (not checked) stays for the records that
// earlier versions left.
// The root recorded changes kind too: the state root over every sector's tag and generation word
// ('state-1'), where earlier versions recorded the RFC 6962 root over the tags alone ('tags', what
// every row this migration finds holds: the column's default fills them, as row-level security keeps
// the migration from reading them). The two cannot be compared, so the next open of a volume whose
// record holds a 'tags' root is taken unchecked as its new baseline ('earlier-root' in opened_as,
// which reviewers' scans report as vms.volume.state-unchecked), not refused — a record an earlier
// adapter left 'served' (killed, never closed since, its journal with no entries before its
// records) as well as a clean close's. The adapters are upgraded with the service: a root an
// earlier adapter records after this migration would be taken for a state root.

import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw('alter table volume_states drop constraint volume_states_opened_as_check');
  await db.raw("alter table volume_states add constraint volume_states_opened_as_check check (opened_as in ('first', 'as-closed', 'after-unclean-end', 'resumed', 'earlier-root'))");
  await db.raw("alter table volume_states add column root_kind text not null default 'tags' constraint volume_states_root_kind_check check (root_kind in ('tags', 'state-1'))");
  await db.raw("alter table volume_states alter column root_kind set default 'state-1'");
}

export async function down(db: Knex): Promise<void> {
  // Rows that say 'resumed' or 'earlier-root' stay as they are (row-level security keeps the migration from seeing
  // tenants' rows): the earlier constraint holds for new rows only.
  await db.raw('alter table volume_states drop column root_kind');
  await db.raw('alter table volume_states drop constraint volume_states_opened_as_check');
  await db.raw("alter table volume_states add constraint volume_states_opened_as_check check (opened_as in ('first', 'as-closed', 'after-unclean-end')) not valid");
}
