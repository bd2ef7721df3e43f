// The hosts scope: every registered host (provider rows) has an approved launch policy, its last
// attestation succeeded, and it is younger than the freshness period.

import type { Knex } from 'knex';
import { asProvider } from '@sealkeep/store';
import { describeAge } from './findings.js';
import { fromJson } from './store.js';
import type { ScopeCheck } from './scope-check.js';

interface HostFacts {
  host_id: string;
  name: string;
  status: 'registered' | 'attested' | 'failed';
  last_failure: string | null;
  approved_mle: string[] | string;
  attested_age: number | null;
}

export const hostsCheck: ScopeCheck = {
  scope: 'hosts',

  async count(db) {
    const [row] = await asProvider(db, (trx) => trx('hosts').count<{ n: string | number }[]>({ n: '*' }));
    return Number(row?.n ?? 0);
  },

  async run(db, ctx, out, progress) {
    const hosts = await asProvider(db, (trx: Knex.Transaction) =>
      trx('hosts')
        .select('host_id', 'name', 'status', 'last_failure', 'approved_mle', trx.raw('extract(epoch from now() - attested_at)::float8 as attested_age'))
        .orderBy('name'),
    ) as HostFacts[];
    if (hosts.length === 0) out.add('hosts.none-registered', 'hosts', 'no host is registered: no VM can have attested its host');
    for (const h of hosts) {
      const subject = `host:${h.host_id}`;
      if (fromJson(h.approved_mle).length === 0) {
        out.add('hosts.launch-policy.missing', subject, `host ${h.name} has no approved launch (no MLE digest): no attestation of it can hold`, { expected: 'at least one approved MLE digest', found: 'none' });
      }
      if (h.status === 'failed') {
        out.add('hosts.attestation.failed', subject, `host ${h.name}'s last attestation failed`, { expected: 'a good attestation', found: h.last_failure ?? 'failed' });
      } else if (h.attested_age === null) {
        out.add('hosts.attestation.never', subject, `host ${h.name} has never attested`);
      } else if (h.attested_age > ctx.hostAttestationSeconds) {
        out.add('hosts.attestation.stale', subject, `host ${h.name} last attested ${describeAge(h.attested_age)} ago`, {
          expected: `at most ${ctx.hostAttestationSeconds} s old`,
          found: `${Math.round(h.attested_age)} s old`,
        });
      }
      await progress.advance();
    }
    return { hosts: hosts.length };
  },
};
