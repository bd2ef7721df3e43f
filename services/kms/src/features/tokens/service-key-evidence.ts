// The service key's evidence (@sealkeep/attestation's service/service-key.ts): a quote by the
// service TPM's attestation key over PCRs 17–19 — the service's measured launch — whose
// qualifying data names the signing key, in the reviewers' evidence bundle format with the
// launch's event log and the EK and AK certificates. Made once, at the first request that asks,
// and the same from then on: the key and the launch do not change while the service runs.

import { serviceKeyNonce, SERVICE_PCRS, type EvidenceBundle } from '@sealkeep/attestation';
import { commands, marshal, password, TPM_ALG, wire, type TpmClient } from '@sealkeep/tpm';
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
export async function makeServiceKeyEvidence(d: ServiceKeyEvidenceDeps, kid: string): Promise<EvidenceBundle> {
  const selection = [wire.pcrSelection(TPM_ALG.SHA256, [...SERVICE_PCRS])];
  const q = await d.tpm.call(commands.Quote, { signHandle: d.akHandle }, { qualifyingData: serviceKeyNonce(kid), inScheme: { scheme: TPM_ALG.NULL, details: null }, PCRselect: selection }, { auth: [password()] });
  const read = await d.tpm.call(commands.PCR_Read, {}, { pcrSelectionIn: selection });
  const tpm2bPublic = Buffer.alloc(2 + d.service.ak.publicArea.length);
  tpm2bPublic.writeUInt16BE(d.service.ak.publicArea.length);
  d.service.ak.publicArea.copy(tpm2bPublic, 2);
  return {
    format: 'sealkeep-evidence',
    version: 1,
    subject: { kind: 'host', id: 'sealkeep-service' },
    createdAt: new Date().toISOString(),
    quote: { attest: q.quoted.toString('base64'), signature: marshal(wire.TPMT_SIGNATURE.plus, q.signature).toString('base64') },
    pcrs: { sha256: Object.fromEntries(SERVICE_PCRS.map((pcr, i) => [String(pcr), read.pcrValues[i]!.toString('hex')])) },
    eventLogs: { drtm: d.service.launchLog.toJSON() },
    ak: { public: tpm2bPublic.toString('base64'), parent: 'endorsement', certificate: d.akCertificatePem, chain: [] },
    ek: { certificate: d.ekCertificatePem },
  };
}
