// A host's evidence for reviewers: the bundle its adapter sent with its last accepted
// attestation, exactly as the TPM signed it, with the nonce it answered, the reference values the
// cloud-admin approved (PCR 17 and 18 after each approved SINIT and MLE) and the service's own
// measured start. Reviewers verify it offline (`sealkeep verify evidence`) against their own
// manufacturer root; nothing here needs trusting. Every read is audited in the provider's chain.

import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { asProvider } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import type { ServiceState } from '../../platform/measured-start.js';
import { requireHost } from './registry.js';

/** A PCR after a dynamic launch reset it to zero and extended one digest (SHA-256). */
const afterLaunch = (digestHex: string) => createHash('sha256').update(Buffer.alloc(32)).update(Buffer.from(digestHex, 'hex')).digest('hex');

export function hostEvidence(db: Knex, actor: AuditActor, service: ServiceState | undefined, hostId: string) {
  return asProvider(db, async (trx) => {
    const host = await requireHost(trx, hostId);
    if (!host.last_evidence || !host.last_nonce) throw new Problem('not-found', 'the host has no accepted attestation yet');
    const bundle = typeof host.last_evidence === 'string' ? (JSON.parse(host.last_evidence) as Record<string, unknown>) : host.last_evidence;
    await appendAudit(trx, actor, { tenantId: null, action: 'evidence.read', resource: `host:${hostId}`, outcome: 'success', details: { attestedAt: new Date(host.attested_at!).toISOString() } });
    return {
      hostId,
      nonce: host.last_nonce.toString('hex'),
      attestedAt: new Date(host.attested_at!).toISOString(),
      attestedUntil: host.attested_until ? new Date(host.attested_until).toISOString() : null,
      bundle: {
        ...bundle,
        subject: { kind: 'host', id: host.name },
        referenceValues: { pcrs: { sha256: { '17': host.approved_sinit.map(afterLaunch), '18': host.approved_mle.map(afterLaunch) } } },
        ...(service ? { serviceMeasurements: { codeDigest: service.measurements.codeDigest, configurationDigest: service.measurements.configurationDigest } } : {}),
      },
    };
  });
}
