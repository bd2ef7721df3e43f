// TPM2_NV_DefineSpace — Part 3 §31.3: the attribute rules of an index at definition, the owner
// or the platform (TPMA_NV_PLATFORMCREATE) as its creator, then the index with WRITTEN clear.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_NT, TPM_RC, TPM_RH, TPMA_NV, nvIndexType } from '../../wire/constants.js';
import { MAX_NV_BUFFER_SIZE } from '../../wire/limits.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_AUTH, TPM2B_NV_PUBLIC, TPMI_RH_PROVISION } from '../../wire/types/index.js';
import { digestSize } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { trimTrailingZeros } from '../../engine/sessions.js';

const has = (attributes: number, bit: number) => (attributes & bit) !== 0;
const READ_BITS = TPMA_NV.OWNERREAD | TPMA_NV.PPREAD | TPMA_NV.AUTHREAD | TPMA_NV.POLICYREAD;
const WRITE_BITS = TPMA_NV.OWNERWRITE | TPMA_NV.PPWRITE | TPMA_NV.AUTHWRITE | TPMA_NV.POLICYWRITE;
const STATE_BITS = TPMA_NV.WRITTEN | TPMA_NV.WRITELOCKED | TPMA_NV.READLOCKED;

/** The data size each index type requires (ordinary: anything up to MAX_NV_INDEX_SIZE). */
function sizeFits(type: number, dataSize: number, nameSize: number): boolean {
  if (type === TPM_NT.EXTEND) return dataSize === nameSize;
  if (type === TPM_NT.COUNTER || type === TPM_NT.BITS) return dataSize === 8;
  return true;
}

export const NV_DefineSpace = defineCommand({
  name: 'NV_DefineSpace',
  code: TPM_CC.NV_DefineSpace,
  handles: { authHandle: { codec: TPMI_RH_PROVISION, auth: 'USER' } },
  params: { auth: TPM2B_AUTH, publicInfo: TPM2B_NV_PUBLIC },
  execute(tpm, { authHandle }, { auth, publicInfo }) {
    const a = publicInfo.attributes;
    const type = nvIndexType(a);
    const nameSize = digestSize(publicInfo.nameAlg);
    const badPublic = () => fail(rcParam(TPM_RC.ATTRIBUTES, 2));

    if (publicInfo.authPolicy.length !== 0 && publicInfo.authPolicy.length !== nameSize) fail(rcParam(TPM_RC.SIZE, 2));
    if (trimTrailingZeros(auth).length > nameSize) fail(rcParam(TPM_RC.SIZE, 1));
    if (authHandle === TPM_RH.PLATFORM && !tpm.hierarchy.phEnableNV) fail(rcHandle(TPM_RC.HIERARCHY, 1));

    // Ordinary, counter, bits and extend indices (PIN indices are not implemented).
    if (type !== TPM_NT.ORDINARY && type !== TPM_NT.COUNTER && type !== TPM_NT.BITS && type !== TPM_NT.EXTEND) badPublic();
    if (!sizeFits(type, publicInfo.dataSize, nameSize)) fail(rcParam(TPM_RC.SIZE, 2));
    if (type === TPM_NT.COUNTER && has(a, TPMA_NV.CLEAR_STCLEAR)) badPublic();
    if ((a & STATE_BITS) !== 0) badPublic();
    if ((a & READ_BITS) === 0 || (a & WRITE_BITS) === 0) badPublic();
    if (has(a, TPMA_NV.CLEAR_STCLEAR) && has(a, TPMA_NV.WRITEDEFINE)) badPublic();
    // The creator must be able to delete the index.
    if (has(a, TPMA_NV.PLATFORMCREATE) !== (authHandle === TPM_RH.PLATFORM)) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    if (has(a, TPMA_NV.POLICY_DELETE) && authHandle !== TPM_RH.PLATFORM) badPublic();
    if (publicInfo.dataSize > MAX_NV_BUFFER_SIZE && has(a, TPMA_NV.WRITEALL)) fail(rcParam(TPM_RC.SIZE, 2));

    tpm.nv.define(publicInfo, trimTrailingZeros(auth));
    return {};
  },
});
