// The launch-control policy (LCP): the allowlist of MLE SHA-256 digests that a dynamic launch
// may start, kept in a platform-owned NV index as Intel TXT keeps its Platform Supplier policy.
//
// Index 0x01C10110. It is in the TCG platform NV range 0x01C00000–0x01FFFFFF (TCG "Registry of
// Reserved TPM 2.0 Handles and Localities"), in the 0x01C101xx block where Intel TXT keeps its
// launch-control indices: AUX 0x01C10102, PS (Platform Supplier policy) 0x01C10103, SGX SVN
// 0x01C10104, PO 0x01C10106, launch policy/error 0x01C10131/0x01C10132. The next few after PS are
// taken by Intel, so this one sits past them and clear of 0x01C1013x; `tpm2_getcap
// handles-nv-index` lists it beside TXT's PS index on a platform that has both.
//
// Attributes, as a platform defines such an index: ppwrite|ppread|ownerread|authread|no_da|
// platformcreate. Only the platform hierarchy writes it (TPM2_Clear does not remove it); anyone
// may read it (authread with the empty authValue), so SINIT — here launch() — needs no secret.
//
// Encoding (version 1): u8 version = 1 | u8 count | count × 32-byte SHA-256 digests. The index
// is exactly that long; provisioning a different list undefines and redefines it.

import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { InProcessTransport } from '../client/transport.js';
import { Tpm } from '../engine/tpm.js';
import { TPM_ALG, TPM_RC, TPM_RH, TPMA_NV } from '../wire/constants.js';
import { MAX_NV_BUFFER_SIZE, MAX_NV_INDEX_SIZE } from '../wire/limits.js';
import { TpmError } from '../wire/rc.js';
import { NV_DefineSpace, NV_Read, NV_ReadPublic, NV_UndefineSpace, NV_Write } from '../commands/nv/index.js';

export const LAUNCH_POLICY_NV_INDEX = 0x01c10110;
export const LAUNCH_POLICY_NV_ATTRIBUTES =
  (TPMA_NV.PPWRITE | TPMA_NV.PPREAD | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA | TPMA_NV.PLATFORMCREATE) >>> 0;
export const LAUNCH_POLICY_VERSION = 1;
const DIGEST = 32;
/** As many digests as fit an index of MAX_NV_INDEX_SIZE (and a u8 count). */
export const LAUNCH_POLICY_MAX_ENTRIES = Math.min(255, Math.floor((MAX_NV_INDEX_SIZE - 2) / DIGEST));

export class LaunchPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchPolicyError';
  }
}

export function encodeLaunchPolicy(digests: readonly Buffer[]): Buffer {
  if (digests.length > LAUNCH_POLICY_MAX_ENTRIES) throw new LaunchPolicyError(`a launch policy holds at most ${LAUNCH_POLICY_MAX_ENTRIES} digests, got ${digests.length}`);
  const seen = new Set<string>();
  for (const [i, d] of digests.entries()) {
    if (d.length !== DIGEST) throw new LaunchPolicyError(`launch policy entry ${i} is ${d.length} bytes, not a SHA-256 digest`);
    const hex = d.toString('hex');
    if (seen.has(hex)) throw new LaunchPolicyError(`launch policy entry ${i} repeats ${hex}`);
    seen.add(hex);
  }
  return Buffer.concat([Buffer.from([LAUNCH_POLICY_VERSION, digests.length]), ...digests]);
}

export function decodeLaunchPolicy(bytes: Buffer): Buffer[] {
  if (bytes.length < 2) throw new LaunchPolicyError('launch policy too short');
  if (bytes[0] !== LAUNCH_POLICY_VERSION) throw new LaunchPolicyError(`launch policy version ${bytes[0]} is not supported (expected ${LAUNCH_POLICY_VERSION})`);
  const count = bytes[1]!;
  if (bytes.length !== 2 + count * DIGEST) throw new LaunchPolicyError(`launch policy of ${count} digests must be ${2 + count * DIGEST} bytes, is ${bytes.length}`);
  return Array.from({ length: count }, (_, i) => Buffer.from(bytes.subarray(2 + i * DIGEST, 2 + (i + 1) * DIGEST)));
}

const clientOf = (target: Tpm | TpmClient) => (target instanceof Tpm ? new TpmClient(new InProcessTransport(target)) : target);

/** The index's size, or null when it is not defined. */
async function definedSize(client: TpmClient, nvIndex: number): Promise<number | null> {
  try {
    return (await client.call(NV_ReadPublic, { nvIndex }, {})).nvPublic.dataSize;
  } catch (e) {
    if (e instanceof TpmError && e.is(TPM_RC.HANDLE)) return null;
    throw e;
  }
}

/**
 * The platform writes the allowlist: the index is (re)defined under TPM_RH_PLATFORM with
 * `platformAuth` (empty after a TPM reset unless the platform set one) and written.
 */
export async function provisionLaunchPolicy(target: Tpm | TpmClient, digests: readonly Buffer[], platformAuth: Buffer = Buffer.alloc(0)): Promise<void> {
  const client = clientOf(target);
  const data = encodeLaunchPolicy(digests);
  const auth = { auth: [password(platformAuth)] };
  const nvIndex = LAUNCH_POLICY_NV_INDEX;
  if ((await definedSize(client, nvIndex)) !== null) {
    await client.call(NV_UndefineSpace, { authHandle: TPM_RH.PLATFORM, nvIndex }, {}, auth);
  }
  const publicInfo = { nvIndex, nameAlg: TPM_ALG.SHA256, attributes: LAUNCH_POLICY_NV_ATTRIBUTES, authPolicy: Buffer.alloc(0), dataSize: data.length };
  await client.call(NV_DefineSpace, { authHandle: TPM_RH.PLATFORM }, { auth: Buffer.alloc(0), publicInfo }, auth);
  for (let offset = 0; offset < data.length; offset += MAX_NV_BUFFER_SIZE) {
    await client.call(NV_Write, { authHandle: TPM_RH.PLATFORM, nvIndex }, { data: data.subarray(offset, offset + MAX_NV_BUFFER_SIZE), offset }, auth);
  }
}

/**
 * Read the allowlist with the index's own (empty) authorization. Null when no policy is
 * provisioned (the index is not defined or was never written); LaunchPolicyError when the
 * contents are not a version-1 policy.
 */
export async function readLaunchPolicy(target: Tpm | TpmClient): Promise<Buffer[] | null> {
  const client = clientOf(target);
  const nvIndex = LAUNCH_POLICY_NV_INDEX;
  const size = await definedSize(client, nvIndex);
  if (size === null) return null;
  const parts: Buffer[] = [];
  try {
    for (let offset = 0; offset < size; offset += MAX_NV_BUFFER_SIZE) {
      const n = Math.min(MAX_NV_BUFFER_SIZE, size - offset);
      parts.push((await client.call(NV_Read, { authHandle: nvIndex, nvIndex }, { size: n, offset }, { auth: [password()] })).data);
    }
  } catch (e) {
    if (e instanceof TpmError && e.is(TPM_RC.NV_UNINITIALIZED)) return null;
    throw e;
  }
  return decodeLaunchPolicy(Buffer.concat(parts));
}
