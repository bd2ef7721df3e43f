// PCR selections and digest lists (Part 2 §10.6, §10.9.5, §10.9.7). A selection is a hash plus a
// bitmap in which PCR n is bit (n mod 8) of octet floor(n / 8); on the wire the bitmap is preceded
// by its length, sizeofSelect, which must lie in [PCR_SELECT_MIN, PCR_SELECT_MAX] (else
// TPM_RC_VALUE). In values the bitmap is a Buffer whose length is sizeofSelect.

import { WireError, list, struct, type Codec, type Infer } from '../codec.js';
import { TPM_RC } from '../constants.js';
import { HASH_COUNT, IMPLEMENTATION_PCR, MAX_DIGEST_LIST, PCR_SELECT_MAX, PCR_SELECT_MIN } from '../limits.js';
import { TPM2B_DIGEST, TPMI_ALG_HASH } from './base.js';

/** sizeofSelect + pcrSelect[sizeofSelect]: the bitmap half of TPMS_PCR_SELECT. */
export const PCR_SELECT_BITMAP: Codec<Buffer> = {
  name: 'TPMS_PCR_SELECT.pcrSelect',
  encode(w, v) {
    if (v.length < PCR_SELECT_MIN || v.length > PCR_SELECT_MAX) {
      throw new Error(`pcrSelect: ${v.length} octets, expected ${PCR_SELECT_MIN}..${PCR_SELECT_MAX}`);
    }
    w.u8(v.length);
    w.bytes(v);
  },
  decode(r) {
    const n = r.u8();
    if (n < PCR_SELECT_MIN || n > PCR_SELECT_MAX) {
      throw new WireError(TPM_RC.VALUE, `sizeofSelect ${n} not in ${PCR_SELECT_MIN}..${PCR_SELECT_MAX}`);
    }
    return r.bytes(n);
  },
};

/** Part 2 §10.6.1 TPMS_PCR_SELECT */
export const TPMS_PCR_SELECT = struct('TPMS_PCR_SELECT', { pcrSelect: PCR_SELECT_BITMAP });
/** Part 2 §10.6.2 TPMS_PCR_SELECTION */
export const TPMS_PCR_SELECTION = struct('TPMS_PCR_SELECTION', { hash: TPMI_ALG_HASH, pcrSelect: PCR_SELECT_BITMAP });
/** Part 2 §10.9.7 TPML_PCR_SELECTION */
export const TPML_PCR_SELECTION = list('TPML_PCR_SELECTION', TPMS_PCR_SELECTION, HASH_COUNT);

/**
 * Part 2 §10.9.5 TPML_DIGEST: count {2:8}. The lower bound is the TPM2_PolicyOR input rule;
 * responses (TPM2_PCR_Read pcrValues) may hold fewer, so decode those with TPML_DIGEST_OUT.
 */
export const TPML_DIGEST = list('TPML_DIGEST', TPM2B_DIGEST, MAX_DIGEST_LIST, 2);
/** TPML_DIGEST as the TPM produces it: count 0..8. */
export const TPML_DIGEST_OUT = list('TPML_DIGEST', TPM2B_DIGEST, MAX_DIGEST_LIST);

/** The bitmap selecting `pcrs` (each 0..IMPLEMENTATION_PCR-1), `size` octets long. */
export function pcrBitmap(pcrs: Iterable<number>, size: number = PCR_SELECT_MAX): Buffer {
  const out = Buffer.alloc(size);
  for (const pcr of pcrs) {
    if (!Number.isInteger(pcr) || pcr < 0 || pcr >= Math.min(IMPLEMENTATION_PCR, size * 8)) {
      throw new RangeError(`PCR ${pcr} cannot be selected`);
    }
    out[pcr >> 3]! |= 1 << (pcr & 7);
  }
  return out;
}

/** The PCR indices a bitmap selects, ascending. */
export function pcrIndices(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bitmap.length * 8; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

/** A TPMS_PCR_SELECTION of `pcrs` in the bank of `hash`. */
export function pcrSelection(hash: number, pcrs: Iterable<number>): TPMS_PCR_SELECTION {
  return { hash, pcrSelect: pcrBitmap(pcrs) };
}

export type TPMS_PCR_SELECT = Infer<typeof TPMS_PCR_SELECT>;
export type TPMS_PCR_SELECTION = Infer<typeof TPMS_PCR_SELECTION>;
export type TPML_PCR_SELECTION = Infer<typeof TPML_PCR_SELECTION>;
export type TPML_DIGEST = Infer<typeof TPML_DIGEST>;
