// The audit scope: every chain — each tenant's and the provider's — verifies whole. Each chain is
// exported exactly as the compliance plane exports it (exportChain) and run through the offline
// verifier reviewers use (@sealkeep/attestation's verifyAuditLog, checkpoints checked against the
// service's own AK when it runs measured); its findings are passed on under their own ids. The
// head the service keeps (audit_chains) must be the last exported entry, which names a deleted
// tail even when no checkpoint covers it yet. Head, entries and checkpoints are read in one
// repeatable-read snapshot, so appends made meanwhile never look like tampering.

import type { Knex } from 'knex';
import { asSystem, enterProvider, enterTenant } from '@sealkeep/store';
import { verifyAuditLog, type AuditFinding, type AuditReport } from '@sealkeep/attestation';
import { exportChain, PROVIDER_CHAIN } from '../../audit/audit-log.js';
import type { FindingCollector, Severity } from './findings.js';
import type { ScopeCheck } from './scope-check.js';

const WHY = 'compliance scan: list every audit chain to verify each';
/** Findings listed per chain; the verifier counts the rest. */
const MAX_PER_CHAIN = 100;

interface ChainRow {
  chain_id: string;
  tenant_id: string | null;
  seq: number;
}

interface ChainSnapshot {
  head: { seq: number; head_hash: string } | undefined;
  lines: string[];
  last: { seq: number; hash: string } | null;
}

/** Head, export and last entry of one chain, in its own scope, from one snapshot. */
function snapshot(db: Knex, chain: ChainRow): Promise<ChainSnapshot> {
  return asSystem(db, 'compliance scan: one consistent snapshot of a chain, read in its own scope', async (trx) => {
    await trx.raw('set transaction isolation level repeatable read');
    await (chain.tenant_id === null ? enterProvider(trx) : enterTenant(trx, chain.tenant_id));
    const head = await trx('audit_chains').where({ chain_id: chain.chain_id }).first('seq', 'head_hash');
    const lines = await exportChain(trx, chain.chain_id);
    const lastRow = await trx('audit_entries').where({ chain_id: chain.chain_id }).orderBy('seq', 'desc').first('seq', 'line');
    let last: ChainSnapshot['last'] = null;
    if (lastRow) {
      let hash = '(unreadable)';
      try {
        hash = String((JSON.parse(lastRow.line as string) as { hash?: unknown }).hash ?? '(none)');
      } catch {
        // The verifier names the malformed line itself.
      }
      last = { seq: Number(lastRow.seq), hash };
    }
    return { head, lines, last };
  });
}

/** The verifier's severities in the scan's terms; an entry merely awaiting its checkpoint is information. */
function severityOf(f: AuditFinding): Severity {
  if (f.id === 'audit.entry.unsigned') return 'info';
  return f.severity === 'warning' ? 'low' : 'high';
}

function passOn(chainId: string, report: AuditReport, out: FindingCollector): void {
  for (const f of report.findings) {
    out.push({
      id: f.id,
      severity: severityOf(f),
      scope: 'audit',
      subject: `chain:${chainId}${f.seq !== undefined ? `/seq:${f.seq}` : ''}`,
      message: f.message,
      ...(f.expected !== undefined ? { expected: f.expected } : {}),
      ...(f.found !== undefined ? { found: f.found } : {}),
    });
  }
  if (report.findingsOmitted > 0) out.add('audit.findings.omitted', `chain:${chainId}`, `${report.findingsOmitted} more findings of the verifier are not listed (export the chain and run sealkeep audit verify for all)`);
}

/** Whether the recorded head is the last entry; a finding when it is not. */
function checkHead(chainId: string, s: ChainSnapshot, out: FindingCollector): boolean {
  const headSeq = Number(s.head?.seq ?? 0);
  const lastSeq = s.last?.seq ?? 0;
  if (headSeq === lastSeq && (headSeq === 0 || s.head!.head_hash === s.last!.hash)) return true;
  out.add('audit.chain.head-mismatch', `chain:${chainId}`, lastSeq < headSeq ? `the chain's head is at seq ${headSeq} but its entries end at ${lastSeq}: entries were removed from its end` : `the chain's last entry (seq ${lastSeq}) is not the head the service recorded (seq ${headSeq})`, {
    expected: `seq ${headSeq}, hash ${s.head?.head_hash.slice(0, 16) ?? '-'}…`,
    found: `seq ${lastSeq}, hash ${s.last?.hash.slice(0, 16) ?? '-'}…`,
  });
  return false;
}

export const auditCheck: ScopeCheck = {
  scope: 'audit',

  /** Audit entries, so a long chain weighs in the progress as what it costs. */
  async count(db) {
    const [row] = await asSystem(db, WHY, (trx) => trx('audit_chains').sum<{ n: string | number | null }[]>({ n: 'seq' }));
    return Number(row?.n ?? 0);
  },

  async run(db, ctx, out, progress) {
    const chains = (await asSystem(db, WHY, (trx) => trx('audit_chains').select('chain_id', 'tenant_id', 'seq').orderByRaw('tenant_id is not null, chain_id'))) as ChainRow[];
    const trusted = ctx.service ? { trustedAkPublicKeysPem: [ctx.service.ak.publicKeyPem] } : {};
    let entries = 0;
    for (const chain of chains) {
      const s = await snapshot(db, chain);
      const report = verifyAuditLog(s.lines, { ...trusted, maxFindings: MAX_PER_CHAIN });
      passOn(chain.chain_id, report, out);
      const headHolds = checkHead(chain.chain_id, s, out);
      const c = report.counts;
      if (report.ok && headHolds) {
        const signed = c.lastCheckpointedSeq === null ? 'no signed checkpoint yet' : `signed up to seq ${c.lastCheckpointedSeq}${ctx.service ? " by the service's AK" : ' (AK not pinned: no measured start)'}`;
        out.add('audit.chain.verified', `chain:${chain.chain_id}`, `${chain.chain_id === PROVIDER_CHAIN ? "the provider's chain" : "a tenant's chain"} verifies: ${c.entries} entries, ${c.checkpoints} checkpoints, ${signed}`);
      }
      entries += c.entries;
      await progress.advance(Math.max(1, c.entries));
    }
    return { chains: chains.length, entries };
  },
};
