// Sealing to PCRs on a vTPM: the TPM2_PolicyPCR policy digest computed offline, the vTPM's
// storage root key (TCG SRK template, ECC P-256, owner hierarchy, persistent at 0x81000001), and
// sealing a secret (≤ 128 bytes) so that only a policy session whose PolicyPCR sees the same
// SHA-256 PCR values unseals it. A mismatch is a PcrSealMismatch, so callers can tell "the
// measurements differ" from every other failure.

import { createHash } from 'node:crypto';
import type { TpmClient } from '../client/client.js';
import { ClientSession, password } from '../client/auth.js';
import { sealedDataTemplate, storageKeyTemplate } from '../client/templates.js';
import { EvictControl, FlushContext } from '../commands/context/index.js';
import { CreatePrimary } from '../commands/hierarchy/index.js';
import { Create, Load, ReadPublic, Unseal } from '../commands/object/index.js';
import { PolicyPCR } from '../commands/policy/index.js';
import { StartAuthSession } from '../commands/session/index.js';
import { TPMA_OBJECT } from '../wire/attribute-bits.js';
import { TPM_CC } from '../wire/command-codes.js';
import { marshal, unmarshal } from '../wire/codec.js';
import { TPM_ALG, TPM_RC, TPM_RH, TPM_SE } from '../wire/constants.js';
import { MAX_SYM_DATA } from '../wire/limits.js';
import { TpmError } from '../wire/rc.js';
import { TPM2B_PRIVATE, TPM2B_PUBLIC, TPML_PCR_SELECTION, pcrSelection } from '../wire/types/index.js';

/** The vTPM's storage root key: the TCG Provisioning Guidance's SRK handle. */
export const VM_SRK_HANDLE = 0x81000001;
/** The most a sealed-data object holds (TPM2B_SENSITIVE_DATA: MAX_SYM_DATA, 128 bytes). */
export const MAX_SEALED_SECRET = MAX_SYM_DATA;

/** The marshalled TPM2B_PUBLIC and TPM2B_PRIVATE of a sealed-data object (TPM2_Create's output). */
export interface SealedBlob {
  public: Buffer;
  private: Buffer;
}

/** The PCRs no longer hold the values the object was sealed to (the TPM's TPM_RC_POLICY_FAIL). */
export class PcrSealMismatch extends Error {
  override name = 'PcrSealMismatch';
  constructor(override readonly cause: TpmError) {
    super(`the PCRs do not hold the values the secret was sealed to (${cause.message})`);
  }
}

const EMPTY = Buffer.alloc(0);
const SHA256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

function checkIndices(indices: Iterable<number>): number[] {
  const list = [...indices];
  if (list.length === 0) throw new RangeError('select at least one PCR');
  for (const i of list) if (!Number.isInteger(i) || i < 0 || i > 23) throw new RangeError(`PCR ${i} is not a PCR index (0–23)`);
  if (new Set(list).size !== list.length) throw new RangeError('a PCR is selected twice');
  return list.sort((a, b) => a - b);
}

const selectionOf = (indices: number[]) => [pcrSelection(TPM_ALG.SHA256, indices)];

/**
 * policyDigest = SHA-256(32 zero bytes ‖ TPM_CC_PolicyPCR ‖ TPML_PCR_SELECTION ‖ SHA-256(values in
 * index order)) — one TPM2_PolicyPCR over the SHA-256 bank from a fresh session, as
 * TPM2_PolicyGetDigest would answer it.
 */
export function pcrPolicyDigest(values: Map<number, Buffer>): Buffer {
  const indices = checkIndices(values.keys());
  for (const i of indices) if (!Buffer.isBuffer(values.get(i)) || values.get(i)!.length !== 32) throw new RangeError(`PCR ${i}: a SHA-256 value is 32 bytes`);
  const code = Buffer.alloc(4);
  code.writeUInt32BE(TPM_CC.PolicyPCR);
  const pcrDigest = SHA256(...indices.map((i) => values.get(i)!));
  return SHA256(Buffer.alloc(32), code, marshal(TPML_PCR_SELECTION, selectionOf(indices)), pcrDigest);
}

async function createSrk(client: TpmClient) {
  return client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.OWNER },
    { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: storageKeyTemplate('eccP256'), outsideInfo: EMPTY, creationPCR: [] },
    { auth: [password()] },
  );
}

/**
 * The vTPM's storage primary (TCG SRK template, ECC P-256, owner hierarchy), made persistent at
 * 0x81000001 the first time and reused after. The guest owns its vTPM and could put a key of its
 * own there (one whose private part it knows would expose everything sealed under it), so an
 * existing object is used only if its Qualified Name is the SRK's — the same public area, and a
 * primary of the owner hierarchy; anything else is refused rather than overwritten.
 */
export async function vmStorageKey(client: TpmClient): Promise<number> {
  const srk = await createSrk(client);
  try {
    const expected = (await client.call(ReadPublic, { objectHandle: srk.objectHandle }, {})).qualifiedName;
    let present: Buffer | undefined;
    try {
      present = (await client.call(ReadPublic, { objectHandle: VM_SRK_HANDLE }, {})).qualifiedName;
    } catch (e) {
      if (!(e instanceof TpmError && e.is(TPM_RC.HANDLE))) throw e;
    }
    if (present === undefined) {
      await client.call(EvictControl, { auth: TPM_RH.OWNER, objectHandle: srk.objectHandle }, { persistentHandle: VM_SRK_HANDLE }, { auth: [password()] });
    } else if (!present.equals(expected)) {
      throw new Error(`0x${VM_SRK_HANDLE.toString(16)} holds a key that is not this vTPM's storage root key (TCG SRK template, ECC P-256, owner hierarchy)`);
    }
    return VM_SRK_HANDLE;
  } finally {
    await client.call(FlushContext, {}, { flushHandle: srk.objectHandle });
  }
}

/**
 * Seal `secret` (1–128 bytes) under the vTPM's storage key to the SHA-256 PCR values `values`: a
 * keyedHash sealed-data object, fixedTPM|fixedParent|noDA, no userWithAuth (the policy is the only
 * way in), authPolicy = pcrPolicyDigest(values). Nothing is loaded afterwards.
 */
export async function sealToPcrs(client: TpmClient, secret: Buffer, values: Map<number, Buffer>): Promise<SealedBlob> {
  if (!Buffer.isBuffer(secret) || secret.length === 0 || secret.length > MAX_SEALED_SECRET) {
    throw new RangeError(`a sealed secret is 1–${MAX_SEALED_SECRET} bytes, not ${Buffer.isBuffer(secret) ? secret.length : typeof secret}`);
  }
  const template = sealedDataTemplate(pcrPolicyDigest(values));
  template.objectAttributes = (template.objectAttributes | TPMA_OBJECT.noDA) >>> 0;
  const parentHandle = await vmStorageKey(client);
  const created = await client.call(
    Create,
    { parentHandle },
    { inSensitive: { userAuth: EMPTY, data: secret }, inPublic: template, outsideInfo: EMPTY, creationPCR: [] },
    { auth: [password()] },
  );
  return { public: marshal(TPM2B_PUBLIC, created.outPublic), private: marshal(TPM2B_PRIVATE, created.outPrivate) };
}

/** A policy session (SHA-256, unsalted, unbound) as the client tracks it. */
async function policySession(client: TpmClient): Promise<ClientSession> {
  const nonceCaller = ClientSession.newNonce(TPM_ALG.SHA256);
  const symmetric = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
  const r = await client.call(
    StartAuthSession,
    { tpmKey: TPM_RH.NULL, bind: TPM_RH.NULL },
    { nonceCaller, encryptedSalt: EMPTY, sessionType: TPM_SE.POLICY, symmetric: symmetric as never, authHash: TPM_ALG.SHA256 },
  );
  return ClientSession.started({ handle: r.sessionHandle, type: TPM_SE.POLICY, hashAlg: TPM_ALG.SHA256, nonceCaller, nonceTPM: r.nonceTPM });
}

/**
 * Unseal a blob sealed by sealToPcrs on this vTPM: load it under the storage key, run PolicyPCR
 * over `indices` (SHA-256 bank) in a policy session, Unseal. The session and the object are
 * flushed whatever happens. PCRs that differ from the sealed values throw PcrSealMismatch; a blob
 * from another TPM fails to load (TpmError TPM_RC_INTEGRITY). If a PCR changes between the
 * PolicyPCR and the Unseal (TPM_RC_PCR_CHANGED) the attempt is repeated, at most three times.
 */
export async function unsealWithPcrs(client: TpmClient, blob: SealedBlob, indices: number[]): Promise<Buffer> {
  const pcrs = selectionOf(checkIndices(indices));
  const inPublic = unmarshal(TPM2B_PUBLIC, blob.public);
  const inPrivate = unmarshal(TPM2B_PRIVATE, blob.private);
  const parentHandle = await vmStorageKey(client);
  const { objectHandle } = await client.call(Load, { parentHandle }, { inPrivate, inPublic }, { auth: [password()] });
  try {
    for (let attempt = 1; ; attempt++) {
      const session = await policySession(client);
      try {
        await client.call(PolicyPCR, { policySession: session.handle }, { pcrDigest: EMPTY, pcrs });
        return (await client.call(Unseal, { itemHandle: objectHandle }, {}, { auth: [session] })).outData;
      } catch (e) {
        if (e instanceof TpmError && e.is(TPM_RC.POLICY_FAIL)) throw new PcrSealMismatch(e);
        if (!(e instanceof TpmError && e.is(TPM_RC.PCR_CHANGED) && attempt < 3)) throw e;
      } finally {
        await client.call(FlushContext, {}, { flushHandle: session.handle }).catch(() => {});
      }
    }
  } finally {
    await client.call(FlushContext, {}, { flushHandle: objectHandle }).catch(() => {});
  }
}
