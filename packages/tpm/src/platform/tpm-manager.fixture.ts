// Test support for the TPM manager's tests: extend, read and quote PCRs of an instance, give it
// a persistent ECC P-256 AK, and check a quote with node:crypto.

import assert from 'node:assert/strict';
import { verify, type KeyObject } from 'node:crypto';
import type { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { attestationKeyTemplate } from '../client/templates.js';
import { Quote } from '../commands/attestation/index.js';
import { EvictControl, FlushContext } from '../commands/context/index.js';
import { CreatePrimary } from '../commands/hierarchy/index.js';
import { PCR_Extend, PCR_Read } from '../commands/pcr/index.js';
import { unmarshal } from '../wire/codec.js';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_RH, TPM_ST } from '../wire/constants.js';
import { TPMS_ATTEST, pcrSelection, type TPMT_SIGNATURE } from '../wire/types/index.js';

/** Where each instance keeps its AK (the owner's persistent range). */
export const AK_HANDLE = 0x81010001;

const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };

export async function extend(client: TpmClient, pcr: number, digest: Buffer): Promise<void> {
  await client.call(PCR_Extend, { pcrHandle: pcr }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest }] }, { auth: [password()] });
}

/** SHA-256 values of `pcrs`, in ascending order. */
export async function readPcrs(client: TpmClient, pcrs: number[]): Promise<Buffer[]> {
  const r = await client.call(PCR_Read, {}, { pcrSelectionIn: [pcrSelection(TPM_ALG.SHA256, pcrs)] });
  return r.pcrValues;
}

/** An ECC P-256 AK under the endorsement hierarchy, made persistent at AK_HANDLE. */
export async function createPersistentAk(client: TpmClient) {
  const ak = await client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.ENDORSEMENT },
    { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: attestationKeyTemplate('eccP256'), outsideInfo: Buffer.alloc(0), creationPCR: [] },
    { auth: [password()] },
  );
  await client.call(EvictControl, { auth: TPM_RH.OWNER, objectHandle: ak.objectHandle }, { persistentHandle: AK_HANDLE }, { auth: [password()] });
  await client.call(FlushContext, {}, { flushHandle: ak.objectHandle });
  return ak;
}

export function quote(client: TpmClient, signHandle: number, nonce: Buffer, pcrs: number[]) {
  return client.call(Quote, { signHandle }, { qualifyingData: nonce, inScheme: NULL_SCHEME, PCRselect: [pcrSelection(TPM_ALG.SHA256, pcrs)] }, { auth: [password()] });
}

const pad = (b: Buffer, n: number) => Buffer.concat([Buffer.alloc(Math.max(0, n - b.length)), b]);

/** The quote is a TPM-made TPMS_ATTEST over `pcrDigest` and `nonce`, signed (ECDSA P-256, SHA-256) by `key`. */
export function checkQuote(q: { quoted: Buffer; signature: TPMT_SIGNATURE }, key: KeyObject, nonce: Buffer, pcrDigest: Buffer) {
  const attest = unmarshal(TPMS_ATTEST, q.quoted);
  assert.equal(attest.magic, TPM_GENERATED_VALUE);
  assert.equal(attest.type, TPM_ST.ATTEST_QUOTE);
  assert.deepEqual(attest.extraData, nonce);
  assert.deepEqual((attest.attested as { pcrDigest: Buffer }).pcrDigest, pcrDigest);
  assert.equal(q.signature.sigAlg, TPM_ALG.ECDSA);
  const s = q.signature.signature as { hash: number; signatureR: Buffer; signatureS: Buffer };
  assert.equal(s.hash, TPM_ALG.SHA256);
  const sig = Buffer.concat([pad(s.signatureR, 32), pad(s.signatureS, 32)]);
  assert.ok(verify('sha256', q.quoted, { key, dsaEncoding: 'ieee-p1363' }, sig), 'quote signature verifies with the AK public key');
  return attest;
}
