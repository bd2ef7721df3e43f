// The service key's evidence: what lets an adapter (or anyone) trust the service's signing key —
// the key that proves every block session's opening — without trusting it on first use. The
// service has its TPM's attestation key quote PCRs 17–19 (its measured launch) with the key's
// thumbprint in the quote's qualifying data, once, and serves that evidence bundle beside the key
// (GET /v1/service-key). The key is derived from the service root, which the TPM unseals only under
// an approved launch, so a quote of an approved launch naming the key says the key is that
// service's. A verifier trusts only its own inputs: the TPM manufacturer's root, and the service's
// approved code and configuration digests (what `sealkeep service measurements` shows and the
// operator approved), from which the PCR values follow (expectedServicePcrs).

import { createHash } from 'node:crypto';
import { verifyEvidence, type EvidenceResult } from '../evidence/verify.js';
import { expectedServicePcrs, SERVICE_PCRS, type ServiceDigests } from './measured-start.js';

/** Names what the quote's qualifying data binds, so that no other quote of the service's TPM passes for this one. */
const SERVICE_KEY_LABEL = 'sealkeep/v1/service-key\n';

/** The quote's qualifying data for the service key `kid` (its RFC 7638 thumbprint). */
export function serviceKeyNonce(kid: string): Buffer {
  return createHash('sha256').update(SERVICE_KEY_LABEL).update(kid).digest();
}

/** The reference values of a service launch with these digests: PCRs 17–19 in the SHA-256 bank. */
export function serviceLaunchPolicy(digests: ServiceDigests): { version: 1; pcrs: { sha256: Record<string, string> } } {
  const values = expectedServicePcrs(digests);
  return { version: 1, pcrs: { sha256: Object.fromEntries(SERVICE_PCRS.map((pcr, i) => [String(pcr), values[i]!.toString('hex')])) } };
}

/**
 * The approved digests from a launch file (JSON with codeDigest and configurationDigest, SHA-256
 * hex, as the operator publishes them or GET /v1/service/measurements shows them); `source` names
 * it in the error.
 */
export function serviceDigestsOf(json: unknown, source: string): ServiceDigests {
  const m = (typeof json === 'object' && json !== null ? json : {}) as Partial<Record<keyof ServiceDigests, unknown>>;
  const hex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
  if (!hex(m.codeDigest) || !hex(m.configurationDigest)) throw new Error(`${source}: expected codeDigest and configurationDigest (SHA-256, hex)`);
  return { codeDigest: m.codeDigest, configurationDigest: m.configurationDigest };
}

export interface VerifyServiceKeyOptions {
  /** The key's thumbprint, as the service presents it. */
  kid: string;
  /** The TPM manufacturer's root (PEM or DER), obtained out of band. */
  trustedRoots: ReadonlyArray<string | Uint8Array>;
  /** The service's approved code and configuration digests (hex). */
  approved: ServiceDigests;
  at?: Date;
}

/** Verifies a service key's evidence bundle: every check of verifyEvidence, with the key's nonce and the approved launch as reference values. */
export function verifyServiceKeyEvidence(evidence: unknown, o: VerifyServiceKeyOptions): Promise<EvidenceResult> {
  return verifyEvidence(evidence, { trustedRoots: o.trustedRoots, nonce: serviceKeyNonce(o.kid), policy: serviceLaunchPolicy(o.approved), ...(o.at ? { at: o.at } : {}) });
}
