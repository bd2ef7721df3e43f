// Writing the audit trail: every significant change appends an entry in the same transaction as
// the change, to its tenant's chain (or the provider's). The chain head is locked for the rest of
// the transaction, so concurrent writers are serialised and the chain never forks; a transaction
// that rolls back takes its entry with it. The format is @sealkeep/attestation's, which reviewers
// verify offline.

import type { Knex } from 'knex';
import { canonicalize, GENESIS_HASH, sealEntry, type AuditEntry, type AuditOutcome, type AuditPlane, type AuditDetailValue } from '@sealkeep/attestation';

export const PROVIDER_CHAIN = 'provider';

/** Who acts, as every entry records it: the plane, the principal, the delegation chain, the request. */
export interface AuditActor {
  plane: AuditPlane;
  principal: string;
  actorChain: string[];
  requestId: string;
}

export interface AuditEvent {
  tenantId: string | null;
  action: string;
  resource: string;
  outcome: AuditOutcome;
  details?: Record<string, AuditDetailValue>;
}

const committed = { tenant: 0, provider: 0 };

/** Entries whose transaction committed since the process started, by kind of chain (for metrics: no tenant named). */
export function auditEntriesCommitted(): Readonly<typeof committed> {
  return committed;
}

export async function appendAudit(trx: Knex.Transaction, actor: AuditActor, event: AuditEvent): Promise<AuditEntry> {
  const chainId = event.tenantId ?? PROVIDER_CHAIN;
  await trx('audit_chains').insert({ chain_id: chainId, tenant_id: event.tenantId, seq: 0, head_hash: GENESIS_HASH }).onConflict('chain_id').ignore();
  const head = await trx('audit_chains').where({ chain_id: chainId }).forUpdate().first();
  const entry = sealEntry(
    {
      tenantId: event.tenantId,
      plane: actor.plane,
      principal: actor.principal,
      actorChain: actor.actorChain,
      action: event.action,
      resource: event.resource,
      outcome: event.outcome,
      requestId: actor.requestId,
      ...(event.details ? { details: event.details } : {}),
    },
    head.seq > 0 ? { seq: head.seq, hash: head.head_hash } : null,
  );
  await trx('audit_entries').insert({ chain_id: chainId, seq: entry.seq, tenant_id: event.tenantId, line: canonicalize(entry) });
  await trx('audit_chains').where({ chain_id: chainId }).update({ seq: entry.seq, head_hash: entry.hash });
  let outermost = trx;
  while (outermost.parentTransaction) outermost = outermost.parentTransaction;
  outermost.executionPromise.then(() => void committed[event.tenantId === null ? 'provider' : 'tenant']++, () => {});
  return entry;
}

/**
 * A chain as written, oldest first, for the offline verifier (JSON Lines): its entries by seq,
 * each signed checkpoint right after the entry it covers. Call in the chain's scope.
 */
export async function exportChain(db: Knex | Knex.Transaction, chainId: string): Promise<string[]> {
  const entries = await db('audit_entries').where({ chain_id: chainId }).orderBy('seq').select('seq', 'line');
  const checkpoints = await db('audit_checkpoints').where({ chain_id: chainId }).orderBy('seq').select('seq', 'line');
  const out: string[] = [];
  let c = 0;
  for (const e of entries) {
    out.push(e.line as string);
    while (c < checkpoints.length && checkpoints[c]!.seq <= e.seq) out.push(checkpoints[c++]!.line as string);
  }
  while (c < checkpoints.length) out.push(checkpoints[c++]!.line as string);
  return out;
}
