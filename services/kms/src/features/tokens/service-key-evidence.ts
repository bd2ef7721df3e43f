// The service key's evidence (@sealkeep/attestation's service/service-key.ts): a quote by the
// service TPM's attestation key over PCRs 17–19 — the service's measured launch — whose
// qualifying data names the signing key, in the reviewers' evidence bundle format with the
// launch's event log and the EK and AK certificates. Made once, at the first request that asks,
// and the same from then on: the key and the launch do not change while the service runs.

import { quoteBundle, serviceKeyNonce, SERVICE_PCRS, type EvidenceBundle } from '@sealkeep/attestation';
import { marshal, unmarshal, wire, type TpmClient } from '@sealkeep/tpm';
import type { ServiceState } from '../../platform/measured-start.js';

export interface ServiceKeyEvidenceDeps {
  service: ServiceState;
  tpm: TpmClient;
  /** The attestation key's handle (an endorsement-hierarchy primary). */
  akHandle: number;
  ekCertificatePem: string;
  akCertificatePem: string;
}

/** What the evidence needs, when the service has it all: a measured start, its TPM's AK, and the EK and AK certificates. */
export function serviceKeyEvidenceDeps(
  service: ServiceState | undefined,
  attestation: { tpm: TpmClient; akHandle: number } | undefined,
  endorsement: { ekCertificatePem: string; akCertificatePem: string } | null | undefined,
): ServiceKeyEvidenceDeps | undefined {
  if (!service || !attestation || !endorsement) return undefined;
  return { service, tpm: attestation.tpm, akHandle: attestation.akHandle, ekCertificatePem: endorsement.ekCertificatePem, akCertificatePem: endorsement.akCertificatePem };
}

/** A bundle of evidence that the service launched as measured holds the key `kid`. */
export function makeServiceKeyEvidence(d: ServiceKeyEvidenceDeps, kid: string): Promise<EvidenceBundle> {
  return quoteBundle({
    client: d.tpm,
    akHandle: d.akHandle,
    akPublic: marshal(wire.TPM2B_PUBLIC, unmarshal(wire.TPMT_PUBLIC, d.service.ak.publicArea)),
    pcrs: SERVICE_PCRS,
    nonce: serviceKeyNonce(kid),
    subject: { kind: 'host', id: 'sealkeep-service' },
    eventLogs: { drtm: d.service.launchLog.toJSON() },
    akCertificate: d.akCertificatePem,
    ekCertificate: d.ekCertificatePem,
  });
}
