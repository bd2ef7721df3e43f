// The ordered list of schema migrations and the knex migration source that serves them.
// Migrations are TypeScript modules imported here explicitly (no directory scanning), so the
// same list runs under tsx, after a build, and on both back ends.

import type { Knex } from 'knex';
import * as m0001 from './0001_tenants.js';
import * as m0002 from './0002_principals.js';
import * as m0003 from './0003_audit.js';
import * as m0004 from './0004_row_level_security.js';
import * as m0005 from './0005_quotas.js';
import * as m0006 from './0006_service_root.js';
import * as m0007 from './0007_keys.js';
import * as m0008 from './0008_hosts.js';
import * as m0009 from './0009_vms.js';
import * as m0010 from './0010_vm_boots_and_volume_keys.js';
import * as m0011 from './0011_scans.js';
import * as m0012 from './0012_volume_states.js';
import * as m0013 from './0013_volume_states_resumed.js';

export interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

/** Oldest first. A name, once released, never changes. */
export const migrations: ReadonlyArray<readonly [string, Migration]> = [
  ['0001_tenants', m0001],
  ['0002_principals', m0002],
  ['0003_audit', m0003],
  ['0004_row_level_security', m0004],
  ['0005_quotas', m0005],
  ['0006_service_root', m0006],
  ['0007_keys', m0007],
  ['0008_hosts', m0008],
  ['0009_vms', m0009],
  ['0010_vm_boots_and_volume_keys', m0010],
  ['0011_scans', m0011],
  ['0012_volume_states', m0012],
  ['0013_volume_states_resumed', m0013],
];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
