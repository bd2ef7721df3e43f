// TPM_CAP_TPM_PROPERTIES (Part 2 §6.13): the fixed properties (PT_FIXED group: what this TPM is
// and its limits) and the variable ones (PT_VAR group: hierarchy, session, object, NV and
// dictionary-attack state), each computed when asked.

import {
  TPM_ALG,
  TPM_PT,
  TPM_RH,
  TPMA_MEMORY,
  TPMA_PERMANENT,
  TPMA_STARTUP_CLEAR,
  nvIndexType,
  TPM_NT,
} from '../../wire/constants.js';
import {
  CONTEXT_DATA_SIZE,
  IMPLEMENTATION_PCR,
  MAX_ACTIVE_SESSIONS,
  MAX_CAP_BUFFER,
  MAX_DIGEST_BUFFER,
  MAX_DIGEST_SIZE,
  MAX_LOADED_OBJECTS,
  MAX_LOADED_SESSIONS,
  MAX_NV_BUFFER_SIZE,
  MAX_NV_INDEX_SIZE,
  PCR_SELECT_MIN,
} from '../../wire/limits.js';
import { FIRMWARE_VERSION_1, FIRMWARE_VERSION_2 } from '../../engine/attest.js';
import { MAX_PERSISTENT_OBJECTS } from '../../engine/objects.js';
import { MAX_NV_INDICES } from '../../engine/nv.js';
import type { Tpm } from '../../engine/tpm.js';
import { IMPLEMENTED_CURVES } from './algorithms.js';
import { savedSessionHandles } from './handles.js';

/** Four ASCII characters as the big-endian UINT32 the vendor properties carry. */
function chars(s: string): number {
  return Buffer.from(s.padEnd(4, '\0').slice(0, 4), 'latin1').readUInt32BE(0);
}

/** TPM 2.0 Library specification Level 00 Revision 01.59, 8 November 2019. */
const SPEC = { family: chars('2.0'), level: 0, revision: 159, dayOfYear: 312, year: 2019 };
/** TCG PC Client Platform TPM Profile 1.05 Revision 14, 4 September 2020. */
const PLATFORM = { family: 1 /* TPM_PS_PC */, level: 0, revision: 105, dayOfYear: 248, year: 2020 };
/** The largest TPMS_CONTEXT ContextSave returns: sequence, savedHandle, hierarchy, TPM2B_CONTEXT_DATA. */
const MAX_CONTEXT = 8 + 4 + 4 + 2 + CONTEXT_DATA_SIZE;
/** Saved contexts: SHA-256 integrity, AES-256 encryption. */
const CONTEXT_HASH = TPM_ALG.SHA256;
const CONTEXT_SYM = TPM_ALG.AES;
const CONTEXT_SYM_BITS = 256;
/** Persistent objects the TPM guarantees room for (the reference TPM's MIN_EVICT_OBJECTS). */
const MIN_EVICT_OBJECTS = 7;

type Property = (tpm: Tpm) => number;

const FIXED: ReadonlyArray<readonly [number, Property]> = [
  [TPM_PT.FAMILY_INDICATOR, () => SPEC.family],
  [TPM_PT.LEVEL, () => SPEC.level],
  [TPM_PT.REVISION, () => SPEC.revision],
  [TPM_PT.DAY_OF_YEAR, () => SPEC.dayOfYear],
  [TPM_PT.YEAR, () => SPEC.year],
  [TPM_PT.MANUFACTURER, () => chars('SKEP')],
  [TPM_PT.VENDOR_STRING_1, () => chars('Seal')],
  [TPM_PT.VENDOR_STRING_2, () => chars('keep')],
  [TPM_PT.VENDOR_STRING_3, () => 0],
  [TPM_PT.VENDOR_STRING_4, () => 0],
  [TPM_PT.VENDOR_TPM_TYPE, () => 1],
  [TPM_PT.FIRMWARE_VERSION_1, () => FIRMWARE_VERSION_1],
  [TPM_PT.FIRMWARE_VERSION_2, () => FIRMWARE_VERSION_2],
  [TPM_PT.INPUT_BUFFER, () => MAX_DIGEST_BUFFER],
  [TPM_PT.HR_TRANSIENT_MIN, () => MAX_LOADED_OBJECTS],
  [TPM_PT.HR_PERSISTENT_MIN, () => MIN_EVICT_OBJECTS],
  [TPM_PT.HR_LOADED_MIN, () => MAX_LOADED_SESSIONS],
  [TPM_PT.ACTIVE_SESSIONS_MAX, () => MAX_ACTIVE_SESSIONS],
  [TPM_PT.PCR_COUNT, () => IMPLEMENTATION_PCR],
  [TPM_PT.PCR_SELECT_MIN, () => PCR_SELECT_MIN],
  [TPM_PT.CONTEXT_GAP_MAX, () => 0xffff],
  [TPM_PT.NV_COUNTERS_MAX, () => 0],
  [TPM_PT.NV_INDEX_MAX, () => MAX_NV_INDEX_SIZE],
  [TPM_PT.MEMORY, () => TPMA_MEMORY.sharedNV | TPMA_MEMORY.objectCopiedToRam],
  [TPM_PT.CLOCK_UPDATE, () => 1 << 12],
  [TPM_PT.CONTEXT_HASH, () => CONTEXT_HASH],
  [TPM_PT.CONTEXT_SYM, () => CONTEXT_SYM],
  [TPM_PT.CONTEXT_SYM_SIZE, () => CONTEXT_SYM_BITS],
  [TPM_PT.ORDERLY_COUNT, () => 255],
  [TPM_PT.MAX_COMMAND_SIZE, () => 4096],
  [TPM_PT.MAX_RESPONSE_SIZE, () => 4096],
  [TPM_PT.MAX_DIGEST, () => MAX_DIGEST_SIZE],
  [TPM_PT.MAX_OBJECT_CONTEXT, () => MAX_CONTEXT],
  [TPM_PT.MAX_SESSION_CONTEXT, () => MAX_CONTEXT],
  [TPM_PT.PS_FAMILY_INDICATOR, () => PLATFORM.family],
  [TPM_PT.PS_LEVEL, () => PLATFORM.level],
  [TPM_PT.PS_REVISION, () => PLATFORM.revision],
  [TPM_PT.PS_DAY_OF_YEAR, () => PLATFORM.dayOfYear],
  [TPM_PT.PS_YEAR, () => PLATFORM.year],
  [TPM_PT.SPLIT_MAX, () => 0],
  [TPM_PT.TOTAL_COMMANDS, (tpm) => tpm.commands.size],
  [TPM_PT.LIBRARY_COMMANDS, (tpm) => tpm.commands.size],
  [TPM_PT.VENDOR_COMMANDS, () => 0],
  [TPM_PT.NV_BUFFER_MAX, () => MAX_NV_BUFFER_SIZE],
  [TPM_PT.MODES, () => 0],
  [TPM_PT.MAX_CAP_BUFFER, () => MAX_CAP_BUFFER],
];

function permanent(tpm: Tpm): number {
  const h = tpm.hierarchy;
  let v = TPMA_PERMANENT.tpmGeneratedEPS;
  if (h.authOf(TPM_RH.OWNER).authValue.length > 0) v |= TPMA_PERMANENT.ownerAuthSet;
  if (h.authOf(TPM_RH.ENDORSEMENT).authValue.length > 0) v |= TPMA_PERMANENT.endorsementAuthSet;
  if (h.authOf(TPM_RH.LOCKOUT).authValue.length > 0) v |= TPMA_PERMANENT.lockoutAuthSet;
  if (h.disableClear) v |= TPMA_PERMANENT.disableClear;
  if (tpm.da.inLockout) v |= TPMA_PERMANENT.inLockout;
  return v;
}

function startupClear(tpm: Tpm): number {
  const h = tpm.hierarchy;
  let v = 0;
  if (h.phEnable) v |= TPMA_STARTUP_CLEAR.phEnable;
  if (h.shEnable) v |= TPMA_STARTUP_CLEAR.shEnable;
  if (h.ehEnable) v |= TPMA_STARTUP_CLEAR.ehEnable;
  if (h.phEnableNV) v |= TPMA_STARTUP_CLEAR.phEnableNV;
  if (tpm.orderlyStartup) v |= TPMA_STARTUP_CLEAR.orderly;
  return v >>> 0;
}

function counters(tpm: Tpm): number {
  let n = 0;
  for (const i of tpm.nv.entries()) if (nvIndexType(i.public.attributes) === TPM_NT.COUNTER) n++;
  return n;
}

const activeSessions = (tpm: Tpm) => tpm.sessions.size + savedSessionHandles(tpm).length;

const VARIABLE: ReadonlyArray<readonly [number, Property]> = [
  [TPM_PT.PERMANENT, permanent],
  [TPM_PT.STARTUP_CLEAR, startupClear],
  [TPM_PT.HR_NV_INDEX, (tpm) => tpm.nv.handles().length],
  [TPM_PT.HR_LOADED, (tpm) => tpm.sessions.size],
  [TPM_PT.HR_LOADED_AVAIL, (tpm) => MAX_ACTIVE_SESSIONS - activeSessions(tpm)],
  [TPM_PT.HR_ACTIVE, activeSessions],
  [TPM_PT.HR_ACTIVE_AVAIL, (tpm) => MAX_ACTIVE_SESSIONS - activeSessions(tpm)],
  [TPM_PT.HR_TRANSIENT_AVAIL, (tpm) => MAX_LOADED_OBJECTS - tpm.objects.transientHandles().length],
  [TPM_PT.HR_PERSISTENT, (tpm) => tpm.objects.persistentHandles().length],
  [TPM_PT.HR_PERSISTENT_AVAIL, (tpm) => MAX_PERSISTENT_OBJECTS - tpm.objects.persistentHandles().length],
  [TPM_PT.NV_COUNTERS, counters],
  [TPM_PT.NV_COUNTERS_AVAIL, (tpm) => MAX_NV_INDICES - tpm.nv.handles().length],
  [TPM_PT.ALGORITHM_SET, () => 0],
  [TPM_PT.LOADED_CURVES, () => IMPLEMENTED_CURVES.length],
  [TPM_PT.LOCKOUT_COUNTER, (tpm) => tpm.da.failedTries],
  [TPM_PT.MAX_AUTH_FAIL, (tpm) => tpm.da.maxTries],
  [TPM_PT.LOCKOUT_INTERVAL, (tpm) => tpm.da.recoveryTime],
  [TPM_PT.LOCKOUT_RECOVERY, (tpm) => tpm.da.lockoutRecovery],
  [TPM_PT.NV_WRITE_RECOVERY, () => 0],
  [TPM_PT.AUDIT_COUNTER_0, () => 0],
  [TPM_PT.AUDIT_COUNTER_1, () => 0],
];

const PROPERTIES = [...FIXED, ...VARIABLE];

/**
 * Properties from `property` on, within its group (fixed or variable; a property below PT_FIXED
 * starts at PT_FIXED), as the reference TPM's TPMCapGetProperties reports them.
 */
export function tpmProperties(tpm: Tpm, property: number): Array<{ property: number; value: number }> {
  const start = Math.max(property, TPM_PT.PT_FIXED);
  const groupEnd = Math.floor(start / TPM_PT.PT_GROUP) * TPM_PT.PT_GROUP + TPM_PT.PT_GROUP;
  return PROPERTIES.filter(([p]) => p >= start && p < groupEnd).map(([p, value]) => ({ property: p, value: value(tpm) >>> 0 }));
}
