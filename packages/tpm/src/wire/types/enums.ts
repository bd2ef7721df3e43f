// Constant types used as fields and parameters (Part 2 §6): each codec carries the constants of
// its type, so `startupType: TPM_SU` declares the wire field and `TPM_SU.CLEAR` names a value
// (the same numbers as constants.ts). The spec's unmarshal accepts only defined values of
// TPM_SU, TPM_SE, TPM_CAP and TPM_EO (else TPM_RC_VALUE); TPM_CC, TPM_ST and TPM_PT are read
// as they come and checked by the command that uses them.

import { WireError, oneOf, u16, u32, u8, type Codec, type Infer } from '../codec.js';
import * as k from '../constants.js';

function withValues<V extends Record<string, number>>(codec: Codec<number>, values: V): Codec<number> & V {
  return Object.assign(codec, values);
}
const plain = (name: string, base: Codec<number>): Codec<number> => ({ ...base, name });

/** Part 2 §6.5.2 TPM_CC */
export const TPM_CC = withValues(plain('TPM_CC', u32), k.TPM_CC);
/** Part 2 §6.9 TPM_ST */
export const TPM_ST = withValues(plain('TPM_ST', u16), k.TPM_ST);
/** Part 2 §6.10 TPM_SU */
export const TPM_SU = withValues(oneOf('TPM_SU', u16, Object.values(k.TPM_SU), k.TPM_RC.VALUE), k.TPM_SU);
/** Part 2 §6.11 TPM_SE */
export const TPM_SE = withValues(oneOf('TPM_SE', u8, Object.values(k.TPM_SE), k.TPM_RC.VALUE), k.TPM_SE);
/** Part 2 §6.12 TPM_CAP */
export const TPM_CAP = withValues(oneOf('TPM_CAP', u32, Object.values(k.TPM_CAP), k.TPM_RC.VALUE), k.TPM_CAP);
/** Part 2 §6.8 TPM_EO */
export const TPM_EO = withValues(oneOf('TPM_EO', u16, Object.values(k.TPM_EO), k.TPM_RC.VALUE), k.TPM_EO);
/** Part 2 §6.7 TPM_CLOCK_ADJUST: an INT8 from -3 (coarse slower) to +3 (coarse faster); other values are TPM_RC_VALUE. */
export const TPM_CLOCK_ADJUST: Codec<number> = {
  name: 'TPM_CLOCK_ADJUST',
  encode: (w, v) => w.u8(v & 0xff),
  decode(r) {
    const v = (r.u8() << 24) >> 24;
    if (v < -3 || v > 3) throw new WireError(k.TPM_RC.VALUE, `TPM_CLOCK_ADJUST: ${v} not in -3..3`);
    return v;
  },
};
/** Part 2 §6.13 TPM_PT */
export const TPM_PT = withValues(plain('TPM_PT', u32), k.TPM_PT);
/** Part 2 §6.14 TPM_PT_PCR */
export const TPM_PT_PCR = withValues(plain('TPM_PT_PCR', u32), k.TPM_PT_PCR);

export type TPM_CC = Infer<typeof TPM_CC>;
export type TPM_ST = Infer<typeof TPM_ST>;
export type TPM_SU = Infer<typeof TPM_SU>;
export type TPM_SE = Infer<typeof TPM_SE>;
export type TPM_CAP = Infer<typeof TPM_CAP>;
export type TPM_EO = Infer<typeof TPM_EO>;
export type TPM_PT = Infer<typeof TPM_PT>;
