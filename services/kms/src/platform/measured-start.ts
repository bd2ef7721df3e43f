// The service's measured start, fail closed. In order:
//   1. open the host TPM; measure the code and the configuration (measure.ts)
//   2. launch: DRTM into PCRs 17–19 through the TXT path (@sealkeep/tpm launch())
//   3. unseal the service root (service-root.ts):
//        no root yet, no operator yet  → start uninitialised: no root, nothing to protect yet
//                                        (no tenant can exist before `sealkeep admin init`)
//        no root yet, an operator      → create it under this configuration (first start),
//                                        bound to that operator's key as configuration approver
//        a root                        → unseal under this configuration, which must be the
//                                        first start's or one the approver signed; else refuse
//   4. audit: the start, and an approval the first time the service runs under it
// A refusal names the measurements and the command that approves them, and nothing starts.

import type { Knex } from 'knex';
import { asProvider } from '@sealkeep/store';
import { launch, commands, type CelLog } from '@sealkeep/tpm';
import { SERVICE_SINIT, SERVICE_PCR_SELECTION, type ServiceDigests } from '@sealkeep/attestation';
import { appendAudit, type AuditActor } from '../audit/audit-log.js';
import { principalLabel } from '../http/mount.js';
import { loadAk, loadSrk, flush, type HostTpm, type LoadedKey } from './host-tpm.js';
import { measureService, type ServiceMeasurements } from './measure.js';
import { createRoot, RootSealedError, unsealRoot } from './service-root.js';
import { firstApprover, loadRoot, markApproved, markStarted, recordConfiguration, saveRoot } from '../features/service/configurations.js';

/** What the service knows about its own start, served to tenants and reviewers. */
export interface ServiceState {
  measurements: ServiceMeasurements;
  /** PCRs 17, 18, 19 (SHA-256) as read back from the TPM after the launch, hex. */
  pcrs: Record<string, string>;
  launchLog: CelLog;
  root: 'unsealed' | 'uninitialised';
  approval: { kind: 'first-start' | 'signed'; approvedBy: string | null; approvedAt: string | null } | null;
  tpm: string;
  ak: LoadedKey & { publicKeyPem: string };
}

export interface StartedService {
  state: ServiceState;
  /** The 32-byte service root secret; null while uninitialised. */
  root: Buffer | null;
}

/** The service refuses to start; the message says why and what the operator can do. */
export class StartRefused extends Error {
  override name = 'StartRefused';
}

const SYSTEM = 'sys:sealkeep';
const systemActor = (requestId: string): AuditActor => ({ plane: 'admin', principal: SYSTEM, actorChain: [SYSTEM], requestId });
const digestsOf = (m: ServiceMeasurements): ServiceDigests => ({ codeDigest: m.codeDigest, configurationDigest: m.configurationDigest });

async function readPcrs(host: HostTpm): Promise<Record<string, string>> {
  const r = await host.client.call(commands.PCR_Read, {}, { pcrSelectionIn: SERVICE_PCR_SELECTION });
  const out: Record<string, string> = {};
  [17, 18, 19].forEach((pcr, i) => (out[String(pcr)] = r.pcrValues[i]!.toString('hex')));
  return out;
}

function refusal(m: ServiceMeasurements, why: string): StartRefused {
  return new StartRefused(
    `${why}: code sha256:${m.codeDigest.slice(0, 16)}…, configuration sha256:${m.configurationDigest.slice(0, 16)}… ` +
      'is not an approved configuration; review and approve it with `sealkeep admin approve-configuration` on this machine, then start again',
  );
}

export async function measuredStart(db: Knex, host: HostTpm, configuration: Record<string, unknown>, requestId: string): Promise<StartedService> {
  const measurements = measureService(configuration);
  const digests = digestsOf(measurements);
  const launched = await launch(host.target, {
    sinit: SERVICE_SINIT,
    mle: Buffer.from(measurements.codeManifest, 'utf8'),
    modules: [{ name: 'configuration', data: Buffer.from(measurements.configuration, 'utf8'), pcr: 19 }],
    policy: 'any', // the root's policy is the launch control here: an unapproved launch unseals nothing
  });
  if (!launched.ok) throw new StartRefused(`the measured launch was refused: ${launched.reason}`);
  const pcrs = await readPcrs(host);
  const srk = await loadSrk(host.client);
  const ak = await loadAk(host.client);
  const akPem = ak.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  // Recorded on its own, so a configuration that is refused stays there for the operator to review.
  const config = await asProvider(db, (trx) => recordConfiguration(trx, measurements));
  const audited = (outcome: 'success' | 'denied', details: Record<string, string>) =>
    asProvider(db, (trx) =>
      appendAudit(trx, systemActor(requestId), {
        tenantId: null,
        action: 'service.start',
        resource: 'service:kms',
        outcome,
        details: { codeDigest: digests.codeDigest, configurationDigest: digests.configurationDigest, tpm: host.description, ...details },
      }),
    );
  try {
    const { root, approval } = await asProvider(db, async (trx) => {
      const stored = await loadRoot(trx);
      if (!stored) {
        const approver = await firstApprover(trx);
        if (!approver) return { root: null, approval: null };
        const { sealed, secret } = await createRoot(host.client, srk, digests, approver.jwk);
        await saveRoot(trx, sealed, approver.principalId);
        await markApproved(trx, digests, { kind: 'first-start', by: approver.principalId });
        await appendAudit(trx, systemActor(requestId), {
          tenantId: null,
          action: 'service.root.create',
          resource: 'service:root',
          outcome: 'success',
          details: { codeDigest: digests.codeDigest, configurationDigest: digests.configurationDigest, approver: principalLabel({ name: approver.name, role: 'cloud-admin' }) },
        });
        return { root: secret, approval: { kind: 'first-start' as const, approvedBy: approver.name, approvedAt: new Date().toISOString() } };
      }
      const signed = config.approval === 'signed' && config.approval_signature ? { digests, signature: config.approval_signature } : null;
      if (!signed && config.approval !== 'first-start') throw refusal(measurements, 'the service configuration changed');
      let secret: Buffer;
      try {
        secret = await unsealRoot(host.client, srk, stored.sealed, digests, signed);
      } catch (e) {
        if (e instanceof RootSealedError) throw refusal(measurements, e.message);
        throw e;
      }
      const approver = config.approved_by ? await trx('principals').where({ principal_id: config.approved_by }).first() : undefined;
      if (!config.approval_audited && config.approval === 'signed') {
        await appendAudit(
          trx,
          { ...systemActor(requestId), principal: approver ? principalLabel(approver) : SYSTEM, actorChain: [approver ? principalLabel(approver) : SYSTEM] },
          {
            tenantId: null,
            action: 'service.configuration.approve',
            resource: 'service:configuration',
            outcome: 'success',
            details: { codeDigest: digests.codeDigest, configurationDigest: digests.configurationDigest, approvedAt: config.approved_at?.toISOString() ?? null },
          },
        );
      }
      return { root: secret, approval: { kind: config.approval!, approvedBy: approver?.name ?? null, approvedAt: config.approved_at?.toISOString() ?? null } };
    });
    await asProvider(db, (trx) => markStarted(trx, digests));
    await audited('success', { root: root ? 'unsealed' : 'uninitialised' });
    return {
      root,
      state: { measurements, pcrs, launchLog: launched.log, root: root ? 'unsealed' : 'uninitialised', approval, tpm: host.description, ak: { ...ak, publicKeyPem: akPem } },
    };
  } catch (e) {
    if (e instanceof StartRefused) await audited('denied', { reason: 'configuration not approved' });
    throw e;
  } finally {
    await flush(host.client, srk.handle);
  }
}
