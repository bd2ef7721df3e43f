// Signing an arbitrary message with a restricted signing key (the service's AK): the TPM hashes
// the message itself and vouches with a hashcheck ticket that it did not begin with
// TPM_GENERATED_VALUE — so the signature can never pass for a TPM-made quote or certification —
// and TPM2_Sign (ECDSA, SHA-256) accepts the digest only with that ticket. A message beginning
// with the magic is refused here, before the TPM would answer with a NULL ticket.

import type { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { Hash, HashSequenceStart, SequenceComplete, SequenceUpdate } from '../commands/hash/index.js';
import { Sign } from '../commands/signing/index.js';
import { TPM_ALG, TPM_GENERATED_VALUE } from '../wire/constants.js';
import { MAX_DIGEST_BUFFER } from '../wire/limits.js';
import type { TPMT_TK_HASHCHECK } from '../wire/types/index.js';
import { seq, uint } from './asn1.js';

export interface EcdsaSignature {
  /** r and s as the TPM returned them (big-endian, the curve's size). */
  r: Buffer;
  s: Buffer;
  /** The X9.62 DER form, SEQUENCE { INTEGER r, INTEGER s }, as node:crypto and OpenSSL verify it. */
  der: Buffer;
}

/** TPM2_Hash for a message that fits one buffer, else a hash sequence; either way with a ticket for `hierarchy`. */
async function hashWithTicket(client: TpmClient, hierarchy: number, message: Buffer): Promise<{ digest: Buffer; validation: TPMT_TK_HASHCHECK }> {
  if (message.length <= MAX_DIGEST_BUFFER) {
    const r = await client.call(Hash, {}, { data: message, hashAlg: TPM_ALG.SHA256, hierarchy });
    return { digest: r.outHash, validation: r.validation };
  }
  const { sequenceHandle } = await client.call(HashSequenceStart, {}, { auth: Buffer.alloc(0), hashAlg: TPM_ALG.SHA256 });
  let offset = 0;
  for (; message.length - offset > MAX_DIGEST_BUFFER; offset += MAX_DIGEST_BUFFER) {
    await client.call(SequenceUpdate, { sequenceHandle }, { buffer: message.subarray(offset, offset + MAX_DIGEST_BUFFER) }, { auth: [password()] });
  }
  const r = await client.call(SequenceComplete, { sequenceHandle }, { buffer: message.subarray(offset), hierarchy }, { auth: [password()] });
  return { digest: r.result, validation: r.validation };
}

/**
 * Sign `message` with the restricted ECDSA key at `keyHandle` (its authValue empty), whose
 * hierarchy is `hierarchy` (TPM_RH_ENDORSEMENT for the AK): the TPM hashes it with SHA-256 and
 * tickets the digest, then TPM2_Sign(ECDSA, SHA-256) signs it. Refuses a message that begins
 * with TPM_GENERATED_VALUE (0xFF544347) with a RangeError, without calling the TPM.
 */
export async function signWithRestrictedKey(client: TpmClient, keyHandle: number, hierarchy: number, message: Buffer): Promise<EcdsaSignature> {
  if (message.length >= 4 && message.readUInt32BE(0) === TPM_GENERATED_VALUE) {
    throw new RangeError('a message beginning with TPM_GENERATED_VALUE (0xFF544347) could pass for a TPM attestation: a restricted key does not sign it');
  }
  const { digest, validation } = await hashWithTicket(client, hierarchy, message);
  const inScheme = { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } };
  const { signature } = await client.call(Sign, { keyHandle }, { digest, inScheme, validation }, { auth: [password()] });
  if (signature.sigAlg !== TPM_ALG.ECDSA) throw new Error(`TPM2_Sign answered signature algorithm 0x${signature.sigAlg.toString(16)}, not ECDSA`);
  const { signatureR: r, signatureS: s } = signature.signature as { signatureR: Buffer; signatureS: Buffer };
  return { r, s, der: seq(uint(r), uint(s)) };
}
