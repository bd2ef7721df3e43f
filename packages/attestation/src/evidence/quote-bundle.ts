// Producing an evidence bundle (the format bundle.ts reads and verify.ts checks): a quote by an
// attestation key over PCRs of the SHA-256 bank, the values the TPM holds for them, and what the
// producer adds — the subject, its event logs, the AK's public area and the EK and AK
// certificates. A host's adapter makes its host's (@sealkeep/sdk's host platform); the service
// makes its signing key's (its qualifying data names the key: ../service/service-key.ts).

import { commands, marshal, password, TPM_ALG, wire, type TpmClient } from '@sealkeep/tpm';
import type { EvidenceBundle } from './bundle.js';

export interface QuoteBundleInput {
  client: TpmClient;
  /** The AK's handle (an endorsement-hierarchy primary, empty authValue) and its TPM2B_PUBLIC. */
  akHandle: number;
  akPublic: Buffer;
  /** The PCRs quoted and reported (SHA-256 bank). */
  pcrs: readonly number[];
  /** The quote's qualifying data: a verifier's nonce, or what the quote binds. */
  nonce: Buffer;
  subject: EvidenceBundle['subject'];
  eventLogs: NonNullable<EvidenceBundle['eventLogs']>;
  /** Base64 DER or PEM. */
  akCertificate: string;
  ekCertificate: string;
}

export async function quoteBundle(i: QuoteBundleInput): Promise<EvidenceBundle> {
  const selection = [wire.pcrSelection(TPM_ALG.SHA256, [...i.pcrs])];
  const q = await i.client.call(commands.Quote, { signHandle: i.akHandle }, { qualifyingData: i.nonce, inScheme: { scheme: TPM_ALG.NULL, details: null }, PCRselect: selection }, { auth: [password()] });
  const read = await i.client.call(commands.PCR_Read, {}, { pcrSelectionIn: selection });
  return {
    format: 'sealkeep-evidence',
    version: 1,
    subject: i.subject,
    createdAt: new Date().toISOString(),
    quote: { attest: q.quoted.toString('base64'), signature: marshal(wire.TPMT_SIGNATURE.plus, q.signature).toString('base64') },
    pcrs: { sha256: Object.fromEntries(i.pcrs.map((pcr, n) => [String(pcr), read.pcrValues[n]!.toString('hex')])) },
    eventLogs: i.eventLogs,
    ak: { public: i.akPublic.toString('base64'), parent: 'endorsement', certificate: i.akCertificate, chain: [] },
    ek: { certificate: i.ekCertificate },
  };
}
