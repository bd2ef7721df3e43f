// Attribute-word codecs (Part 2 §8, §13.4). Each codec also carries its bit masks from
// attribute-bits.ts, so one import serves both the wire and the tests on the value:
// `objectAttributes: TPMA_OBJECT` in a structure and `attrs & TPMA_OBJECT.fixedTPM` in code.
// Reserved bits set on unmarshal are TPM_RC_RESERVED_BITS. (TPMA_SESSION lives in session.ts.)

import { attributes, u32, u8, type Codec, type Infer } from '../codec.js';
import * as bits from '../attribute-bits.js';

function withBits<B extends object>(codec: Codec<number>, masks: B): Codec<number> & B {
  return Object.assign(codec, masks);
}

/** Part 2 §8.2 TPMA_ALGORITHM */
export const TPMA_ALGORITHM = withBits(attributes('TPMA_ALGORITHM', u32, bits.TPMA_ALGORITHM_RESERVED), bits.TPMA_ALGORITHM);
/** Part 2 §8.3 TPMA_OBJECT */
export const TPMA_OBJECT = withBits(attributes('TPMA_OBJECT', u32, bits.TPMA_OBJECT_RESERVED), bits.TPMA_OBJECT);
/** Part 2 §8.5 TPMA_LOCALITY (no reserved bits: 5-7 hold an extended locality) */
export const TPMA_LOCALITY = withBits(attributes('TPMA_LOCALITY', u8, 0), bits.TPMA_LOCALITY);
/** Part 2 §8.6 TPMA_PERMANENT (output only) */
export const TPMA_PERMANENT = withBits(attributes('TPMA_PERMANENT', u32, 0), bits.TPMA_PERMANENT);
/** Part 2 §8.7 TPMA_STARTUP_CLEAR (output only) */
export const TPMA_STARTUP_CLEAR = withBits(attributes('TPMA_STARTUP_CLEAR', u32, 0), bits.TPMA_STARTUP_CLEAR);
/** Part 2 §8.9 TPMA_CC */
export const TPMA_CC = withBits(attributes('TPMA_CC', u32, bits.TPMA_CC_RESERVED), bits.TPMA_CC);
/** Part 2 §13.4 TPMA_NV (with the TPM_NT field in bits 4-7) */
export const TPMA_NV = withBits(attributes('TPMA_NV', u32, bits.TPMA_NV_RESERVED), bits.TPMA_NV);

export type TPMA_ALGORITHM = Infer<typeof TPMA_ALGORITHM>;
export type TPMA_OBJECT = Infer<typeof TPMA_OBJECT>;
export type TPMA_LOCALITY = Infer<typeof TPMA_LOCALITY>;
export type TPMA_CC = Infer<typeof TPMA_CC>;
export type TPMA_NV = Infer<typeof TPMA_NV>;
