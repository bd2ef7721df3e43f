// TPM2_GetCapability — Part 3 §30.2: one list per call, of at most propertyCount entries
// (clamped to what fits the capability buffer) starting at `property`; moreData says entries
// were left out.

import { TPM_CC } from '../../wire/command-codes.js';
import { u32 } from '../../wire/codec.js';
import { TPM_HT, TPM_RC, TPM_RH } from '../../wire/constants.js';
import {
  MAX_CAP_ALGS,
  MAX_CAP_CC,
  MAX_CAP_HANDLES,
  MAX_ECC_CURVES,
  MAX_PCR_PROPERTIES,
  MAX_TAGGED_POLICIES,
  MAX_TPM_PROPERTIES,
} from '../../wire/limits.js';
import { rcParam } from '../../wire/rc.js';
import { TPM_CAP, TPMI_YES_NO, TPMS_CAPABILITY_DATA, pcrBitmap } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import type { Tpm } from '../../engine/tpm.js';
import { IMPLEMENTED_ALGORITHMS, IMPLEMENTED_CURVES } from './algorithms.js';
import { commandAttributes } from './command-attributes.js';
import { handlesOfType } from './handles.js';
import { pcrProperties } from './pcr-properties.js';
import { tpmProperties } from './tpm-properties.js';

/** The first `count` entries (count clamped to `max`) and whether any were left out. */
function page<T>(items: T[], count: number, max: number): { moreData: number; items: T[] } {
  const n = Math.min(count, max);
  return { moreData: items.length > n ? 1 : 0, items: items.slice(0, n) };
}

/** Hierarchies with an authPolicy (TPM_CAP_AUTH_POLICIES), ascending. */
const POLICY_HANDLES = [TPM_RH.OWNER, TPM_RH.LOCKOUT, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM];

function authPolicies(tpm: Tpm, property: number) {
  return POLICY_HANDLES.filter((h) => h >= property).map((handle) => {
    const a = tpm.hierarchy.authOf(handle);
    return { handle, policyHash: { hashAlg: a.policyAlg, digest: a.authPolicy.length > 0 ? a.authPolicy : null } };
  });
}

function capability(tpm: Tpm, cap: number, property: number, count: number): { moreData: number; data: unknown } {
  const list = <T>(items: T[], max: number) => {
    const p = page(items, count, max);
    return { moreData: p.moreData, data: p.items };
  };
  switch (cap) {
    case TPM_CAP.ALGS:
      return list(IMPLEMENTED_ALGORITHMS.filter((a) => a.alg >= (property & 0xffff)), MAX_CAP_ALGS);
    case TPM_CAP.HANDLES: {
      const handles = handlesOfType(tpm, property);
      if (!handles) fail(rcParam(TPM_RC.HANDLE, 2));
      return list(handles.filter((h) => h >= property), MAX_CAP_HANDLES);
    }
    case TPM_CAP.COMMANDS: {
      const cmds = [...tpm.commands.values()].filter((c) => c.code >= property).sort((a, b) => a.code - b.code);
      return list(cmds.map(commandAttributes), MAX_CAP_CC);
    }
    case TPM_CAP.PP_COMMANDS:
    case TPM_CAP.AUDIT_COMMANDS:
      return list([], MAX_CAP_CC);
    case TPM_CAP.PCRS: {
      if (property !== 0) fail(rcParam(TPM_RC.VALUE, 2));
      if (count === 0) return { moreData: 1, data: [] };
      const all = Array.from({ length: tpm.pcr.count }, (_, i) => i);
      return { moreData: 0, data: tpm.pcr.algorithms().map((hash) => ({ hash, pcrSelect: pcrBitmap(all) })) };
    }
    case TPM_CAP.TPM_PROPERTIES:
      return list(tpmProperties(tpm, property), MAX_TPM_PROPERTIES);
    case TPM_CAP.PCR_PROPERTIES:
      return list(pcrProperties(tpm.pcr, property), MAX_PCR_PROPERTIES);
    case TPM_CAP.ECC_CURVES:
      return list(IMPLEMENTED_CURVES.filter((c) => c >= property), MAX_ECC_CURVES);
    case TPM_CAP.AUTH_POLICIES:
      if (property >>> 24 !== TPM_HT.PERMANENT) fail(rcParam(TPM_RC.VALUE, 2));
      return list(authPolicies(tpm, property), MAX_TAGGED_POLICIES);
    default:
      // TPM_CAP_VENDOR_PROPERTY: no vendor properties.
      return fail(rcParam(TPM_RC.VALUE, 1));
  }
}

export const GetCapability = defineCommand({
  name: 'GetCapability',
  code: TPM_CC.GetCapability,
  params: { capability: TPM_CAP, property: u32, propertyCount: u32 },
  response: { moreData: TPMI_YES_NO, capabilityData: TPMS_CAPABILITY_DATA },
  execute(tpm, _h, { capability: cap, property, propertyCount }) {
    const { moreData, data } = capability(tpm, cap, property, propertyCount);
    return { moreData, capabilityData: { capability: cap, data: data as never } };
  },
});
