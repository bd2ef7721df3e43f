// TPM_CAP_PCR_PROPERTIES (Part 2 §6.14 TPM_PT_PCR): for each PCR attribute, the bitmap of PCRs
// that have it, from the PC Client locality rules the PCR subsystem enforces.

import { TPM_PT_PCR } from '../../wire/constants.js';
import { pcrBitmap } from '../../wire/types/index.js';
import { isDrtmPcr, isStateSaved, type PcrBanks } from '../../engine/pcr-banks.js';

function rules(pcr: PcrBanks): ReadonlyArray<readonly [number, (i: number) => boolean]> {
  const byLocality = (tag: number, locality: number, kind: 'extend' | 'reset') =>
    [tag, (i: number) => (kind === 'extend' ? pcr.canExtend(i, locality) : pcr.canReset(i, locality))] as const;
  return [
    [TPM_PT_PCR.SAVE, isStateSaved],
    byLocality(TPM_PT_PCR.EXTEND_L0, 0, 'extend'),
    byLocality(TPM_PT_PCR.RESET_L0, 0, 'reset'),
    byLocality(TPM_PT_PCR.EXTEND_L1, 1, 'extend'),
    byLocality(TPM_PT_PCR.RESET_L1, 1, 'reset'),
    byLocality(TPM_PT_PCR.EXTEND_L2, 2, 'extend'),
    byLocality(TPM_PT_PCR.RESET_L2, 2, 'reset'),
    byLocality(TPM_PT_PCR.EXTEND_L3, 3, 'extend'),
    byLocality(TPM_PT_PCR.RESET_L3, 3, 'reset'),
    byLocality(TPM_PT_PCR.EXTEND_L4, 4, 'extend'),
    byLocality(TPM_PT_PCR.RESET_L4, 4, 'reset'),
    // Every extend and reset increments pcrUpdateCounter: no PCR is exempt.
    [TPM_PT_PCR.NO_INCREMENT, () => false],
    [TPM_PT_PCR.DRTM_RESET, isDrtmPcr],
  ];
}

/** The PCR properties from tag `property` on, ascending by tag. */
export function pcrProperties(pcr: PcrBanks, property: number): Array<{ tag: number; pcrSelect: Buffer }> {
  const all = Array.from({ length: pcr.count }, (_, i) => i);
  return rules(pcr)
    .filter(([tag]) => tag >= property)
    .map(([tag, has]) => ({ tag, pcrSelect: pcrBitmap(all.filter(has)) }));
}
