// The provider's hosts: a cloud-admin registers a host by its EK certificate (it must chain to
// a trusted TPM manufacturer root) and approves the launch measurements it may attest — the
// SINIT and MLE digests of its TXT launch. Both are audited in the provider's chain.

import { randomUUID, X509Certificate } from 'node:crypto';
import type { Knex } from 'knex';
import { asProvider } from '@sealkeep/store';
import { endorsementKeyTemplate, type wire } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';

export interface HostRow {
  host_id: string;
  name: string;
  ek_certificate: Buffer;
  approved_sinit: string[];
  approved_mle: string[];
  ak_public_area: Buffer | null;
  principal_id: string | null;
  status: 'registered' | 'attested' | 'failed';
  last_failure: string | null;
  last_quote: Buffer | null;
  last_evidence: Record<string, unknown> | string | null;
  last_nonce: Buffer | null;
  attested_at: Date | null;
  attested_until: Date | null;
  created_at: Date;
}

export interface HostSummary {
  hostId: string;
  name: string;
  status: HostRow['status'];
  ekCertificateSubjectAltName: string | null;
  approvedLaunch: { sinitDigests: string[]; mleDigests: string[] };
  attestedAt: string | null;
  attestedUntil: string | null;
  lastFailure: string | null;
  principalId: string | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function hostSummary(h: HostRow): HostSummary {
  return {
    hostId: h.host_id,
    name: h.name,
    status: h.status,
    ekCertificateSubjectAltName: new X509Certificate(h.ek_certificate).subjectAltName ?? null,
    approvedLaunch: { sinitDigests: h.approved_sinit, mleDigests: h.approved_mle },
    attestedAt: iso(h.attested_at),
    attestedUntil: iso(h.attested_until),
    lastFailure: h.last_failure,
    principalId: h.principal_id,
  };
}

/** The EK's TPMT_PUBLIC, rebuilt from its certificate and the TCG default template it was made with. */
export function ekPublicArea(ekCertificate: Buffer): wire.TPMT_PUBLIC {
  const key = new X509Certificate(ekCertificate).publicKey;
  const jwk = key.export({ format: 'jwk' });
  const b = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
  if (key.asymmetricKeyType === 'ec' && jwk.crv === 'P-256') return { ...endorsementKeyTemplate('eccP256'), unique: { x: b(jwk.x), y: b(jwk.y) } } as wire.TPMT_PUBLIC;
  if (key.asymmetricKeyType === 'rsa' && b(jwk.n).length === 256) return { ...endorsementKeyTemplate('rsa2048'), unique: b(jwk.n) } as wire.TPMT_PUBLIC;
  throw new Problem('validation-failed', 'the EK certificate is neither the TCG default ECC P-256 nor RSA 2048 EK');
}

/** The EK certificate, from PEM, if one of the trusted manufacturer roots signed it. */
export function acceptEkCertificate(pem: string, trustedRoots: readonly string[]): Buffer {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new Problem('validation-failed', 'the EK certificate does not parse');
  }
  const now = new Date();
  if (new Date(cert.validFrom) > now || new Date(cert.validTo) < now) throw new Problem('validation-failed', 'the EK certificate is not valid now');
  const trusted = trustedRoots.some((root) => {
    const r = new X509Certificate(root);
    return cert.checkIssued(r) && cert.verify(r.publicKey);
  });
  if (!trusted) throw new Problem('validation-failed', 'the EK certificate does not chain to a trusted TPM manufacturer root');
  ekPublicArea(cert.raw);
  return cert.raw;
}

export const findHost = (trx: Knex.Transaction, hostId: string): Promise<HostRow | undefined> => trx('hosts').where({ host_id: hostId }).first();

export async function requireHost(trx: Knex.Transaction, hostId: string, opts: { lock?: boolean } = {}): Promise<HostRow> {
  const q = trx('hosts').where({ host_id: hostId });
  const h = (await (opts.lock ? q.forUpdate() : q).first()) as HostRow | undefined;
  if (!h) throw new Problem('not-found', 'no such host');
  return h;
}

export function registerHost(db: Knex, actor: AuditActor, trustedRoots: readonly string[], body: { name: string; ekCertificatePem: string }): Promise<HostSummary> {
  const ek = acceptEkCertificate(body.ekCertificatePem, trustedRoots);
  return asProvider(db, async (trx) => {
    if (await trx('hosts').where({ name: body.name }).first()) throw new Problem('conflict', `a host named ${body.name} exists`);
    const hostId = randomUUID();
    await trx('hosts').insert({ host_id: hostId, name: body.name, ek_certificate: ek });
    await appendAudit(trx, actor, { tenantId: null, action: 'host.register', resource: `host:${hostId}`, outcome: 'success', details: { name: body.name } });
    return hostSummary((await findHost(trx, hostId))!);
  });
}

export function approveLaunch(db: Knex, actor: AuditActor, hostId: string, body: { sinitDigests: string[]; mleDigests: string[] }): Promise<HostSummary> {
  return asProvider(db, async (trx) => {
    await requireHost(trx, hostId, { lock: true });
    const sinit = [...new Set(body.sinitDigests.map((d) => d.toLowerCase()))];
    const mle = [...new Set(body.mleDigests.map((d) => d.toLowerCase()))];
    await trx('hosts').where({ host_id: hostId }).update({ approved_sinit: JSON.stringify(sinit), approved_mle: JSON.stringify(mle) });
    // Each approved digest as its own *Digest field (the audit log takes hex only in digest fields).
    const details: Record<string, string | number> = { sinitCount: sinit.length, mleCount: mle.length };
    sinit.forEach((d, i) => (details[`sinit${i}Digest`] = d));
    mle.forEach((d, i) => (details[`mle${i}Digest`] = d));
    await appendAudit(trx, actor, { tenantId: null, action: 'host.approve-launch', resource: `host:${hostId}`, outcome: 'success', details });
    return hostSummary((await findHost(trx, hostId))!);
  });
}

export const listHosts = (db: Knex) => asProvider(db, async (trx) => ((await trx('hosts').orderBy('created_at')) as HostRow[]).map(hostSummary));
export const getHost = (db: Knex, hostId: string) => asProvider(db, async (trx) => hostSummary(await requireHost(trx, hostId)));
