// TPMA_CC of each implemented command (Part 2 §8.9), reported by GetCapability(TPM_CAP_COMMANDS).
// cHandles and rHandle come from the command's descriptor; the nv, extensive and flushed bits
// are the Part 3 command attributes ("NV" / "Extensive" / "Flushed" in each command's table).

import { TPM_CC, TPMA_CC } from '../../wire/constants.js';
import type { AnyCommand } from '../../engine/command.js';

/** Commands that may write NV (TPMA_CC.nv). */
const NV_COMMANDS = new Set<number>([
  TPM_CC.NV_UndefineSpaceSpecial, TPM_CC.EvictControl, TPM_CC.HierarchyControl, TPM_CC.NV_UndefineSpace,
  TPM_CC.ChangeEPS, TPM_CC.ChangePPS, TPM_CC.Clear, TPM_CC.ClearControl, TPM_CC.ClockSet,
  TPM_CC.HierarchyChangeAuth, TPM_CC.NV_DefineSpace, TPM_CC.PCR_Allocate, TPM_CC.PCR_SetAuthPolicy,
  TPM_CC.PP_Commands, TPM_CC.SetPrimaryPolicy, TPM_CC.NV_GlobalWriteLock, TPM_CC.GetCommandAuditDigest,
  TPM_CC.NV_Increment, TPM_CC.NV_SetBits, TPM_CC.NV_Extend, TPM_CC.NV_Write, TPM_CC.NV_WriteLock,
  TPM_CC.DictionaryAttackLockReset, TPM_CC.DictionaryAttackParameters, TPM_CC.NV_ChangeAuth,
  TPM_CC.PCR_Event, TPM_CC.PCR_Reset, TPM_CC.SetAlgorithmSet, TPM_CC.SetCommandCodeAuditStatus,
  TPM_CC.IncrementalSelfTest, TPM_CC.SelfTest, TPM_CC.Startup, TPM_CC.Shutdown, TPM_CC.StirRandom,
  TPM_CC.NV_ReadLock, TPM_CC.PCR_Extend, TPM_CC.EventSequenceComplete,
]);
/** Commands that may flush many objects (TPMA_CC.extensive). */
const EXTENSIVE_COMMANDS = new Set<number>([TPM_CC.HierarchyControl, TPM_CC.ChangeEPS, TPM_CC.ChangePPS, TPM_CC.Clear]);
/** Commands that flush the context of their transient handle (TPMA_CC.flushed). */
const FLUSHED_COMMANDS = new Set<number>([TPM_CC.SequenceComplete, TPM_CC.EventSequenceComplete]);

export function commandAttributes(cmd: AnyCommand): number {
  let a = cmd.code & TPMA_CC.commandIndex;
  if (NV_COMMANDS.has(cmd.code)) a |= TPMA_CC.nv;
  if (EXTENSIVE_COMMANDS.has(cmd.code)) a |= TPMA_CC.extensive;
  if (FLUSHED_COMMANDS.has(cmd.code)) a |= TPMA_CC.flushed;
  a |= cmd.handleNames.length << TPMA_CC.cHandles_SHIFT;
  if (cmd.responseHandleNames.length > 0) a |= TPMA_CC.rHandle;
  return a >>> 0;
}
