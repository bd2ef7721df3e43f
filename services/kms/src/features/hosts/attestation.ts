// A host's adapter earns its data-plane identity by attestation, and keeps it only while the
// attestation is fresh:
//   1. challenge: the adapter names its AK (TPM2B_PUBLIC: a restricted, fixed, TPM-made signing
//      key) and its own public JWK; the service answers TPM2_MakeCredential against the host's
//      registered EK for the AK's Name, and a fresh quote nonce (one use, 120 s).
//   2. attest: the adapter's TPM opens the credential (TPM2_ActivateCredential: only the TPM that
//      holds both the EK and the AK can), quotes PCRs 17/18 with the nonce, and sends the secret
//      and an evidence bundle (the reviewers' format) under a request proof signed by that JWK.
//      The service checks the secret, then the bundle with the same offline verifier reviewers
//      use (signature, nonce, PCR digest, DRTM log replay, clock never backwards against the last
//      accepted quote, certificates to the manufacturer roots), then the launch: SINIT and MLE
//      digests the cloud-admin approved. Good: the adapter's key becomes (or stays) the host's
//      hypervisor principal until now + the freshness period. Bad: the identity lapses at once.
// Both outcomes are audited in the provider's chain.

import { createHash, randomBytes, randomUUID, timingSafeEqual, type JsonWebKey } from 'node:crypto';
import type { Knex } from 'knex';
import { asProvider } from '@sealkeep/store';
import { verifyEvidence } from '@sealkeep/attestation';
import { importPublicJwk, jwkThumbprint, publicJwk } from '@sealkeep/crypto';
import { commands, TPM_ALG, TPM_RH, TPMA_OBJECT as A, unmarshal, wire, type TpmClient } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { flush } from '../../platform/host-tpm.js';
import { ekPublicArea, requireHost, type HostRow } from './registry.js';
import { insertPrincipal } from '../principals/store.js';

export const CHALLENGE_SECONDS = 120;
const AK_REQUIRED = A.restricted | A.sign | A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin;

export interface AttestationSettings {
  /** The TPM manufacturer roots EK (and AK) certificates must chain to. */
  trustedRoots: readonly string[];
  /** How long a good attestation holds (seconds). */
  freshSeconds: number;
}

/** The AK's TPMT_PUBLIC from TPM2B_PUBLIC bytes, if it is a key fit to quote. */
function acceptAk(tpm2bPublic: Buffer): { publicArea: wire.TPMT_PUBLIC; name: Buffer } {
  let pub: wire.TPMT_PUBLIC;
  try {
    pub = unmarshal(wire.TPM2B_PUBLIC, tpm2bPublic) as wire.TPMT_PUBLIC;
  } catch {
    throw new Problem('validation-failed', 'akPublic is not a TPM2B_PUBLIC');
  }
  if (pub.nameAlg !== TPM_ALG.SHA256) throw new Problem('validation-failed', 'the AK must be named with SHA-256');
  if ((pub.objectAttributes & AK_REQUIRED) !== AK_REQUIRED || pub.objectAttributes & A.decrypt) {
    throw new Problem('validation-failed', 'the AK must be a restricted signing key made by and fixed to its TPM');
  }
  const body = tpm2bPublic.subarray(2);
  const name = Buffer.concat([Buffer.from([0x00, TPM_ALG.SHA256]), createHash('sha256').update(body).digest()]);
  return { publicArea: pub, name };
}

/** TPM2_MakeCredential in the service's own TPM, with the host's EK loaded as an external key. */
async function makeCredential(tpm: TpmClient, ekCertificate: Buffer, secret: Buffer, akName: Buffer): Promise<{ credentialBlob: Buffer; encryptedSecret: Buffer }> {
  const ek = await tpm.call(commands.LoadExternal, {}, { inPrivate: null as never, inPublic: ekPublicArea(ekCertificate), hierarchy: TPM_RH.NULL });
  try {
    const r = await tpm.call(commands.MakeCredential, { handle: ek.objectHandle }, { credential: secret, objectName: akName });
    return { credentialBlob: r.credentialBlob as unknown as Buffer, encryptedSecret: r.secret };
  } finally {
    await flush(tpm, ek.objectHandle).catch(() => {});
  }
}

export async function challengeHost(db: Knex, tpm: TpmClient, hostId: string, body: { akPublic: string; adapterJwk: JsonWebKey }) {
  const ak = acceptAk(Buffer.from(body.akPublic, 'base64'));
  let adapterJwk: JsonWebKey;
  try {
    adapterJwk = publicJwk(importPublicJwk(body.adapterJwk));
  } catch {
    throw new Problem('validation-failed', 'adapterJwk is not a public ES256 or Ed25519 key');
  }
  const host = await asProvider(db, (trx) => requireHost(trx, hostId));
  const secret = randomBytes(32);
  const nonce = randomBytes(32);
  const { credentialBlob, encryptedSecret } = await makeCredential(tpm, host.ek_certificate, secret, ak.name);
  const challengeId = randomUUID();
  const expiresAt = new Date(Date.now() + CHALLENGE_SECONDS * 1000);
  await asProvider(db, (trx) =>
    trx('host_challenges').insert({ challenge_id: challengeId, host_id: hostId, secret_sha256: createHash('sha256').update(secret).digest(), nonce, ak_public_area: Buffer.from(body.akPublic, 'base64'), adapter_jwk: JSON.stringify(adapterJwk), expires_at: expiresAt }),
  );
  secret.fill(0);
  return { challengeId, credentialBlob: credentialBlob.toString('base64'), encryptedSecret: encryptedSecret.toString('base64'), nonce: nonce.toString('hex'), expiresAt: expiresAt.toISOString() };
}

/** Which approved launch the DRTM log shows: PCR 17's SINIT and PCR 18's MLE digest (sha256). */
function launchDigests(bundle: { eventLogs?: { drtm?: unknown[] } }): { sinit: string | null; mle: string | null } {
  const digestOf = (type: string, pcr: number) => {
    for (const r of (bundle.eventLogs?.drtm ?? []) as Array<{ pcr?: number; digests?: Array<{ hashAlg: string; digest: string }>; content?: { event_type?: unknown } }>) {
      if (r.pcr === pcr && r.content?.event_type === type) return r.digests?.find((d) => d.hashAlg === 'sha256')?.digest.toLowerCase() ?? null;
    }
    return null;
  };
  return { sinit: digestOf('EVTYPE_HASH_START', 17), mle: digestOf('EVTYPE_MLE_HASH', 18) };
}

export interface AttestRequest {
  challengeId: string;
  credential: string;
  evidence: Record<string, unknown>;
}

/** Every reason the attestation fails, as finding ids with messages; empty when it holds. */
async function judge(host: HostRow, challenge: { secret_sha256: Buffer; nonce: Buffer; ak_public_area: Buffer }, req: AttestRequest, settings: AttestationSettings): Promise<{ failures: string[]; quote: Buffer | null }> {
  const failures: string[] = [];
  const opened = createHash('sha256').update(Buffer.from(req.credential, 'base64')).digest();
  if (!timingSafeEqual(opened, challenge.secret_sha256)) failures.push('credential-not-activated: the secret is not the one made for this EK and AK');
  const ev = req.evidence as { ak?: { public?: string }; ek?: { certificate?: string }; quote?: { attest?: string }; eventLogs?: { drtm?: unknown[] } };
  if (ev.ak?.public !== challenge.ak_public_area.toString('base64')) failures.push('ak-not-challenged: the evidence names another AK than the challenge');
  if (ev.ek?.certificate !== host.ek_certificate.toString('base64')) failures.push('ek-not-registered: the evidence carries another EK certificate than the host registered');
  const result = await verifyEvidence(req.evidence, {
    trustedRoots: settings.trustedRoots,
    nonce: challenge.nonce,
    ...(host.last_quote ? { previousQuote: host.last_quote } : {}),
    policy: { pcrs: {} },
  });
  // Credential activation binds the AK to the EK; a TPM without an AK certificate is fine here.
  for (const f of result.findings) if (f.severity === 'error' && f.id !== 'ak-certificate-missing') failures.push(`${f.id}: ${f.message}`);
  const launch = launchDigests(ev);
  if (!launch.sinit || !host.approved_sinit.includes(launch.sinit)) failures.push(`launch-sinit-not-approved: ${launch.sinit ?? 'none'}`);
  if (!launch.mle || !host.approved_mle.includes(launch.mle)) failures.push(`launch-mle-not-approved: ${launch.mle ?? 'none'}`);
  return { failures, quote: ev.quote?.attest ? Buffer.from(ev.quote.attest, 'base64') : null };
}

export async function attestHost(db: Knex, actor: AuditActor, settings: AttestationSettings, hostId: string, adapterThumbprint: string, req: AttestRequest) {
  const outcome = await asProvider(db, async (trx) => {
    const host = await requireHost(trx, hostId, { lock: true });
    const challenge = await trx('host_challenges').where({ challenge_id: req.challengeId, host_id: hostId }).forUpdate().first();
    if (!challenge || challenge.used_at || new Date(challenge.expires_at) <= new Date()) throw new Problem('attestation-failed', 'the challenge is unknown, used or expired', { findings: ['challenge-invalid'] });
    await trx('host_challenges').where({ challenge_id: req.challengeId }).update({ used_at: trx.fn.now() });
    const adapterJwk = (typeof challenge.adapter_jwk === 'string' ? JSON.parse(challenge.adapter_jwk) : challenge.adapter_jwk) as JsonWebKey;
    if (jwkThumbprint(adapterJwk) !== adapterThumbprint) throw new Problem('attestation-failed', "the request is not signed by the adapter key the challenge named", { findings: ['adapter-key-mismatch'] });
    const { failures, quote } = await judge(host, challenge, req, settings);
    if (failures.length) {
      await trx('hosts').where({ host_id: hostId }).update({ status: 'failed', attested_until: null, last_failure: failures.map((f) => f.split(':')[0]).join(',') });
      await appendAudit(trx, actor, { tenantId: null, action: 'host.attest', resource: `host:${hostId}`, outcome: 'failure', details: { findings: failures.map((f) => f.split(':')[0]).join(',') } });
      return { ok: false as const, failures };
    }
    const principalId = await adapterPrincipal(trx, host, adapterJwk);
    const until = new Date(Date.now() + settings.freshSeconds * 1000);
    await trx('hosts').where({ host_id: hostId }).update({ status: 'attested', principal_id: principalId, ak_public_area: challenge.ak_public_area, last_quote: quote, last_evidence: JSON.stringify(req.evidence), last_nonce: challenge.nonce, attested_at: trx.fn.now(), attested_until: until, last_failure: null });
    await appendAudit(trx, actor, { tenantId: null, action: 'host.attest', resource: `host:${hostId}`, outcome: 'success', details: { attestedUntil: until.toISOString(), principalId } });
    return { ok: true as const, principalId, attestedUntil: until.toISOString() };
  });
  if (!outcome.ok) throw new Problem('attestation-failed', outcome.failures.join('; '), { findings: outcome.failures.map((f) => f.split(':')[0]) });
  return { hostId, principalId: outcome.principalId, attestedUntil: outcome.attestedUntil };
}

/** The host's hypervisor principal with this key: kept, or a new one (the old key revoked). */
async function adapterPrincipal(trx: Knex.Transaction, host: HostRow, jwk: JsonWebKey): Promise<string> {
  const thumbprint = jwkThumbprint(jwk);
  if (host.principal_id) {
    const current = await trx('principals').where({ principal_id: host.principal_id }).first();
    if (current?.jwk_thumbprint === thumbprint && current.status === 'active') return host.principal_id;
    await trx('principals').where({ principal_id: host.principal_id }).update({ status: 'revoked', revoked_at: trx.fn.now() });
  }
  const principalId = randomUUID();
  const existing = await trx('principals').where({ jwk_thumbprint: thumbprint }).first();
  if (existing) throw new Problem('conflict', 'this adapter key already belongs to another principal');
  await insertPrincipal(trx, { principal_id: principalId, tenant_id: null, name: `${host.name}-${principalId.slice(0, 8)}`, role: 'hypervisor', public_jwk: jwk, jwk_thumbprint: thumbprint });
  return principalId;
}

/** Whether a hypervisor principal's host attestation holds now (checked on every data-plane request). */
export async function hostAttestationHolds(trx: Knex.Transaction, principalId: string): Promise<boolean> {
  const h = await trx('hosts').where({ principal_id: principalId, status: 'attested' }).andWhere('attested_until', '>', trx.fn.now()).first('host_id');
  return !!h;
}

